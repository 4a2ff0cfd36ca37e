#!/usr/bin/env node
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { Vigil } from './app.js';
import { registerClusterCommands } from './cli-cluster.js';
import { registerFeedbackCommands } from './cli-feedback.js';
import { registerLearnCommands } from './cli-learn.js';
import { doctorEngines, registerModelCommands } from './cli-models.js';
import { registerStyleCommands } from './cli-style.js';
import { ConfigError, loadConfig } from './config/load.js';
import { checkReferences } from './config/references.js';
import { AuditLog } from './faces/audit.js';
import { PROJECT_ROOT } from './util/paths.js';
import { describeStages, stagesMarkdown } from './pipeline/inspect.js';
import { stageKinds } from './pipeline/stage.js';
import './pipeline/stages/index.js';
import { resolveFfmpeg } from './sources/ffmpeg.js';
import { redactUrlsIn } from './util/redact-url.js';

const DEFAULT_CONFIG = join(PROJECT_ROOT, 'config', 'default.yaml');

function port(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError('must be a port number (0-65535)');
  return n;
}

function fail(e: unknown): never {
  // errors may quote a stream or webhook URL (ffmpeg, YAML): never with its credentials
  process.stderr.write(
    `vigil: ${redactUrlsIn(e instanceof ConfigError ? e.message : (e as Error).message)}\n`,
  );
  process.exit(2);
}

const program = new Command()
  .name('vigil')
  .description('Real-time streaming video processor: live streams in, annotated frames out over WebSocket');

program
  .command('run', { isDefault: true })
  .description('start the service (default: the embedded demo in config/default.yaml)')
  .option('-c, --config <file>', 'YAML configuration', DEFAULT_CONFIG)
  .option('-p, --port <n>', 'override server.port', port)
  .option('-H, --host <addr>', 'override server.host')
  .action(async (o: { config: string; port?: number; host?: string }) => {
    let config: ReturnType<typeof loadConfig>;
    try {
      config = loadConfig(o.config);
      checkReferences(config, o.config);
    } catch (e) {
      fail(e);
    }
    if (o.port !== undefined) config.server.port = o.port;
    if (o.host) config.server.host = o.host;
    let vigil: Vigil;
    try {
      vigil = await Vigil.start(config);
    } catch (e) {
      fail(e);
    }
    let stopping = false;
    const shutdown = (signal: string) => {
      if (stopping) return;
      stopping = true;
      vigil.log.info({ signal }, 'shutting down');
      const force = setTimeout(() => process.exit(1), 10_000);
      force.unref();
      vigil.stop().then(() => process.exit(0));
    };
    process.on('SIGINT', () => shutdown('SIGINT'));
    process.on('SIGTERM', () => shutdown('SIGTERM'));
  });

program
  .command('check')
  .description('validate a configuration file and exit')
  .argument('<file>', 'YAML configuration')
  .action((file: string) => {
    try {
      const c = loadConfig(file);
      checkReferences(c, file);
      process.stdout.write(`${file}: OK (${c.streams.length} stream(s), pipeline ${c.pipeline})\n`);
    } catch (e) {
      fail(e);
    }
  });

program
  .command('doctor')
  .description('show which ffmpeg and inference engines Vigil would use (and why, per model)')
  .option('-c, --config <file>', 'YAML configuration (inference settings)', DEFAULT_CONFIG)
  .action(async (o: { config: string }) => {
    const ff = resolveFfmpeg();
    process.stdout.write(
      `ffmpeg: ${ff.path} (${ff.version}, ${ff.source}), RTSP socket timeout flag -${ff.rtspSocketTimeoutFlag}\n`,
    );
    const { createTfjsEngine } = await import('./inference/tfjs-engine.js');
    const e = await createTfjsEngine('auto');
    process.stdout.write(`inference: ${e.engine}/${e.backend}\n`);
    try {
      await doctorEngines(o.config);
    } catch (err) {
      fail(err);
    }
  });

/** Runs `fn` with the gallery and a face service of the config's data directory. */
async function withFaces<T>(
  configFile: string,
  fn: (f: Awaited<ReturnType<typeof import('./faces/open.js')['openFaces']>>) => Promise<T>,
): Promise<T> {
  const [{ openFaces }, { faceDatabase }] = await Promise.all([
    import('./faces/open.js'),
    import('./faces/demo-gallery.js'),
  ]);
  const config = loadConfig(configFile);
  const db = faceDatabase(config);
  if (db.demo)
    process.stderr.write(
      `note: ${configFile} uses the demo gallery (${db.file}), not your own: set demoGallery: false to use <dataDir>/vigil.db\n`,
    );
  const f = await openFaces(config);
  try {
    return await fn(f);
  } finally {
    await f.close();
  }
}

const out = (v: unknown) =>
  process.stdout.write(`${typeof v === 'string' ? v : JSON.stringify(v, null, 2)}\n`);

program
  .command('enroll')
  .description('enroll a person from one or more photos (one face each)')
  .requiredOption('-n, --name <name>', "the person's name")
  .argument('<images...>', 'photo files')
  .option('-c, --config <file>', 'YAML configuration (data directory, pipeline)', DEFAULT_CONFIG)
  .action(async (images: string[], o: { name: string; config: string }) => {
    const { readFileSync } = await import('node:fs');
    try {
      const bufs = images.map((f) => {
        try {
          return readFileSync(f);
        } catch (e) {
          throw new Error(`cannot read ${f}: ${(e as Error).message}`);
        }
      });
      const p = await withFaces(o.config, async (f) => {
        const person = await f.service.enroll(o.name, bufs);
        // the CLI runs on the machine itself, with no token: "local", like a service without tokens
        new AuditLog(f.gallery.db).record({
          actor: 'local',
          action: 'enroll',
          personId: person.id,
          name: person.name,
          detail: { source: 'cli', photos: person.photos },
        });
        return person;
      });
      out(`enrolled ${p.name} (id ${p.id}) from ${p.photos} photo(s)`);
    } catch (e) {
      fail(e);
    }
  });

program
  .command('people')
  .description('list enrolled people')
  .option('-c, --config <file>', 'YAML configuration', DEFAULT_CONFIG)
  .option('--json', 'JSON output')
  .action(async (o: { config: string; json?: boolean }) => {
    try {
      const people = await withFaces(o.config, async (f) => f.gallery.list());
      if (o.json) out(people);
      else if (!people.length) out('nobody enrolled');
      else
        for (const p of people)
          out(`${String(p.id).padStart(5)}  ${p.name}  (${p.photos} photo(s), ${p.embedded} embedded)`);
    } catch (e) {
      fail(e);
    }
  });

program
  .command('identify')
  .description('identify every face of an image against the gallery')
  .argument('<image>', 'image file')
  .option('-c, --config <file>', 'YAML configuration', DEFAULT_CONFIG)
  .action(async (image: string, o: { config: string }) => {
    const { readFileSync } = await import('node:fs');
    try {
      const faces = await withFaces(o.config, (f) => f.service.identify(readFileSync(image)));
      if (!faces.length) out('no face found');
      for (const f of faces)
        out(
          `${f.identity.label.padEnd(24)} similarity ${f.identity.similarity.toFixed(3)}  box ${f.box.map((v) => Math.round(v)).join(',')}` +
            (f.identity.personId === null && f.identity.nearest
              ? `  (nearest: ${f.identity.nearest.name})`
              : ''),
        );
    } catch (e) {
      fail(e);
    }
  });

program
  .command('verify')
  .description('are the main faces of two images the same person?')
  .argument('<a>', 'image file')
  .argument('<b>', 'image file')
  .option('-c, --config <file>', 'YAML configuration', DEFAULT_CONFIG)
  .action(async (a: string, b: string, o: { config: string }) => {
    const { readFileSync } = await import('node:fs');
    try {
      const v = await withFaces(o.config, (f) => f.service.verify(readFileSync(a), readFileSync(b)));
      out(
        `${v.same ? 'same person' : 'different people'}: similarity ${v.similarity.toFixed(3)} (threshold ${v.threshold.similarity.toFixed(3)}), distance ${v.distance.toFixed(3)} (threshold ${v.threshold.distance.toFixed(3)})`,
      );
    } catch (e) {
      fail(e);
    }
  });

program
  .command('reembed')
  .description('embed stored photos with the configured model (after changing it); spaces are never mixed')
  .option('-c, --config <file>', 'YAML configuration', DEFAULT_CONFIG)
  .action(async (o: { config: string }) => {
    try {
      const n = await withFaces(o.config, (f) =>
        f.service.reembed((done, total) => process.stderr.write(`[reembed] ${done}/${total}\n`)),
      );
      out(`re-embedded ${n} photo(s)`);
    } catch (e) {
      fail(e);
    }
  });

const evalCmd = program.command('eval').description('evaluate models on labelled data');
evalCmd
  .command('faces')
  .description(
    'one-shot identification and verification on folders per identity (first image enrolled, the rest queried)',
  )
  .requiredOption('-d, --dir <dir...>', 'labelled folder(s): one sub-folder per identity')
  .option('-m, --model <name>', 'embedding model (models/manifest.yaml)', 'faceres')
  .option('--no-align', 'box crop instead of keypoint alignment')
  .option(
    '--context <x>',
    'crop context around the aligned face (default: the model manifest)',
    Number.parseFloat,
  )
  .option('--tiles <n>', 'detector tiles along the long side', (v) => Number.parseInt(v, 10))
  .option(
    '--threshold <sim>',
    'decision threshold for the open-set figures (default: FAR 1% of each set)',
    Number.parseFloat,
  )
  .option('-b, --backend <name>', 'inference backend', 'auto')
  .option('--json <file>', 'also write the report as JSON')
  .option('--write-threshold', 'store the open-set threshold (stranger FAR 1%) in models/thresholds.yaml')
  .action(
    async (o: {
      dir: string[];
      model: string;
      align: boolean;
      context?: number;
      tiles?: number;
      threshold?: number;
      backend: string;
      json?: string;
      writeThreshold?: boolean;
    }) => {
      const { evalFaces } = await import('./faces/eval.js');
      try {
        const res = await evalFaces(o.dir, {
          backend: o.backend as 'auto',
          embedModel: o.model,
          align: o.align,
          context: o.context,
          detector: { tiles: o.tiles },
          threshold: o.threshold,
          progress: (m) => process.stderr.write(`[eval] ${m}\n`),
        });
        const cols = [
          'set',
          'ids',
          'images',
          'noFace',
          'rank1',
          'TAR@FAR1%',
          'TAR@FAR0.1%',
          'AUC',
          'thr@FAR1%',
          'strangerFAR',
          'ms/img detect',
          'ms/face embed',
        ] as const;
        const rows = res.reports.map((r) => [
          r.dir.split('/').filter(Boolean).at(-1) ?? r.dir,
          r.identities,
          r.images,
          r.noFace,
          r.rank1.toFixed(3),
          r.tarAtFar1.toFixed(3),
          r.tarAtFar01.toFixed(3),
          r.rocAuc.toFixed(4),
          r.thresholdAtFar1.toFixed(3),
          `${r.strangerFar.toFixed(3)} @${r.threshold.toFixed(3)}`,
          r.msDetectPerImage.toFixed(1),
          r.msEmbedPerFace.toFixed(1),
        ]);
        process.stdout.write(`model ${o.model}, ${o.align ? 'aligned' : 'box crop'}\n`);
        process.stdout.write(`| ${cols.join(' | ')} |\n|${cols.map(() => '---').join('|')}|\n`);
        for (const r of rows) process.stdout.write(`| ${r.join(' | ')} |\n`);
        process.stdout.write(
          `pooled over the sets: pair threshold at FAR 1% = ${res.pooled.thresholdAtFar1.toFixed(4)} (TAR ${res.pooled.tarAtFar1.toFixed(3)})\n`,
        );
        const os = res.openSet;
        process.stdout.write(
          `open set (each identity left out in turn, ${os.strangerQueries} stranger queries): threshold ${os.threshold.toFixed(4)} gives stranger FAR ${os.strangerFar.toFixed(3)}, known accepted ${os.knownTar.toFixed(3)}\n`,
        );
        if (o.writeThreshold) {
          const { writeThreshold, spaceVersion } = await import('./faces/thresholds.js');
          const ctx =
            o.context ?? (await import('./inference/model-loader.js')).manifest(o.model).context ?? 1.6;
          const file = writeThreshold(o.model, spaceVersion(o.align, ctx), {
            similarity: Number(os.threshold.toFixed(4)),
            far: Number(os.strangerFar.toFixed(4)),
            tar: Number(os.knownTar.toFixed(4)),
            measuredOn: o.dir.map((d) => d.split('/').filter(Boolean).at(-1) ?? d),
            date: new Date().toISOString().slice(0, 10),
          });
          process.stdout.write(`threshold written to ${file}\n`);
        }
        if (o.json) {
          const { writeFileSync } = await import('node:fs');
          writeFileSync(
            o.json,
            `${JSON.stringify({ date: new Date().toISOString(), model: o.model, align: o.align, ...res }, null, 2)}\n`,
          );
        }
      } catch (e) {
        fail(e);
      }
    },
  );

program
  .command('stages')
  .description('list every pipeline stage kind with its config keys, types and defaults (like gst-inspect)')
  .argument('[kind]', 'only this stage kind')
  .option('--markdown', "as Markdown tables (README's pipeline reference)")
  .action((kind: string | undefined, o: { markdown?: boolean }) => {
    const kinds = stageKinds().filter((k) => !kind || k.kind === kind);
    if (!kinds.length)
      fail(
        new Error(
          `no stage kind "${kind}" (registered: ${stageKinds()
            .map((k) => k.kind)
            .join(', ')})`,
        ),
      );
    process.stdout.write(`${o.markdown ? stagesMarkdown(kinds) : describeStages(kinds)}\n`);
  });

registerFeedbackCommands(program, DEFAULT_CONFIG, fail);
registerClusterCommands(program);
registerLearnCommands(program);
registerModelCommands(program, DEFAULT_CONFIG);
await registerStyleCommands(program);

program.parseAsync().catch(fail);
