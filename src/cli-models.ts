/**
 * `vigil models convert` (tfjs graph models -> ONNX, with the equivalence check against tfjs) and
 * the engine lines of `vigil doctor`.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from './config/load.js';
import { DEFAULT_DETECTOR } from './faces/detect/blazeface.js';
import { detectTask, embedTask } from './faces/tasks/index.js';
import type { ModelManifest } from './inference/contract.js';
import { InferenceHost } from './inference/host.js';
import { modelJsonPath, readManifests } from './inference/model-loader.js';
import { convertCached, convertFile } from './inference/onnx/cache.js';
import { defaultThreads, loadOrt } from './inference/onnx/engine.js';
import { describeReport } from './inference/onnx/select.js';
import { engineSettings } from './inference/onnx/settings.js';
import type { EngineSettings, ModelEngineReport } from './inference/protocol.js';
import type { TaskEntry } from './inference/task.js';
import { loadPipeline, stageSettings } from './pipeline/definition.js';

const out = (s: string) => process.stdout.write(`${s}\n`);

/** Manifest models that are tfjs graphs and installed (optional packages may be absent). */
function convertible(): { ok: ModelManifest[]; skipped: string[] } {
  const ok: ModelManifest[] = [];
  const skipped: string[] = [];
  for (const m of Object.values(readManifests())) {
    if (m.format !== 'tfjs-graph') {
      skipped.push(`${m.name}: ${m.format} is built op by op in tfjs (no graph to convert); it runs on tfjs`);
      continue;
    }
    try {
      if (existsSync(modelJsonPath(m))) ok.push(m);
      else skipped.push(`${m.name}: ${modelJsonPath(m)} is missing`);
    } catch {
      skipped.push(`${m.name}: package ${m.package} is not installed`);
    }
  }
  return { ok, skipped };
}

/**
 * Runs a model in an inference worker with engine `onnx`: the worker converts it, checks it against
 * tfjs on the sample photo (detector: decoded boxes; embedders: face crops found by the detector)
 * and reports.
 */
export async function checkInWorker(
  m: ModelManifest,
  engines: EngineSettings,
  engine: 'onnx' | 'auto' = 'onnx',
): Promise<ModelEngineReport | undefined> {
  const isEmbed = m.dim !== undefined;
  const tasks: TaskEntry[] = isEmbed
    ? [
        detectTask({ model: 'blazeface', options: DEFAULT_DETECTOR }),
        embedTask({ model: m.name, align: true, context: m.context }),
      ]
    : [detectTask({ model: m.name, options: DEFAULT_DETECTOR })];
  const host = new InferenceHost({
    workers: 1,
    backend: 'auto',
    tasks,
    engines: {
      ...engines,
      // the detector feeding an embedder's check stays on tfjs: only `m` is under test
      models: { ...engines.models, ...(isEmbed ? { blazeface: 'tfjs' } : {}), [m.name]: engine },
    },
  });
  try {
    await host.start();
    return host.models.find((r) => r.model === m.name);
  } finally {
    await host.close();
  }
}

export function registerModelCommands(program: Command, defaultConfig: string): void {
  const models = program.command('models').description('inference models: ONNX conversion');
  models
    .command('convert')
    .description(
      'convert tfjs graph models to ONNX (cached under <dataDir>/onnx by source hash) and check them against tfjs',
    )
    .argument('[names...]', 'models of models/manifest.yaml (default: every convertible one)')
    .option('-c, --config <file>', 'YAML configuration (data directory, ONNX options)', defaultConfig)
    .option(
      '--file <model.json>',
      'convert this tfjs graph model.json instead (written next to it, or to --out)',
    )
    .option('--outputs <names>', 'with --file: output node names, comma-separated (default: the graph sinks)')
    .option('--out <dir>', 'write the .onnx files here as well')
    .option('--force', 'convert even when the cache has the model')
    .option('--no-check', 'skip the equivalence check against tfjs')
    .action(
      async (
        names: string[],
        o: { config: string; file?: string; outputs?: string; out?: string; force?: boolean; check: boolean },
      ) => {
        try {
          if (o.file) {
            const t0 = performance.now();
            const r = convertFile(resolve(o.file), {
              outputs: o.outputs?.split(',').filter(Boolean),
              name: basename(dirname(resolve(o.file))),
            });
            const dest = join(o.out ?? dirname(resolve(o.file)), `${basename(o.file, '.json')}.onnx`);
            mkdirSync(dirname(dest), { recursive: true });
            writeFileSync(dest, r.bytes);
            out(
              `${o.file}: ${r.nodes} ONNX nodes, ${(r.bytes.length / 1e6).toFixed(2)} MB, outputs ${r.outputs.join(', ')}, ${(performance.now() - t0).toFixed(0)} ms -> ${dest}`,
            );
            return;
          }
          const config = loadConfig(o.config);
          const engines = engineSettings(config.inference, config.dataDir);
          const all = convertible();
          const manifests = readManifests();
          const chosen = names.length
            ? names.map((n) => {
                const m = manifests[n];
                if (!m)
                  throw new Error(
                    `unknown model "${n}" (models/manifest.yaml has: ${Object.keys(manifests).join(', ')})`,
                  );
                return m;
              })
            : all.ok;
          if (!names.length) for (const s of all.skipped) out(`skipped ${s}`);
          let failed = 0;
          for (const m of chosen) {
            const c = convertCached(m, engines.onnx.cacheDir, { force: o.force });
            out(
              `${m.name}: ${c.cached ? 'cached' : `converted in ${c.ms.toFixed(0)} ms`}, ${(c.bytes.length / 1e6).toFixed(2)} MB -> ${c.path}`,
            );
            if (o.out) {
              mkdirSync(o.out, { recursive: true });
              writeFileSync(join(o.out, `${m.name}.onnx`), c.bytes);
            }
            if (o.check) {
              const r = await checkInWorker(m, engines);
              if (!r) throw new Error(`${m.name}: the worker did not report`);
              out(`  ${describeReport(r)}`);
              if (r.engine !== 'onnx') failed++;
            }
          }
          if (failed) {
            process.stderr.write(`vigil: ${failed} model(s) failed their check and will run on tfjs\n`);
            process.exitCode = 1;
          }
        } catch (e) {
          process.stderr.write(`vigil: ${(e as Error).message}\n`);
          process.exit(2);
        }
      },
    );
}

/**
 * The engine part of `vigil doctor`: ONNX Runtime's version and providers, then, for the models of
 * the configured pipeline (and the recognition model), the engine each would run on and why.
 */
export async function doctorEngines(configFile: string): Promise<void> {
  const config = loadConfig(configFile);
  const engines = engineSettings(config.inference, config.dataDir);
  try {
    const ort = await loadOrt();
    const providers = ort.listSupportedBackends?.() ?? [];
    out(
      `onnxruntime: ${ort.env.versions.common}, providers ${providers.map((p) => `${p.name}${p.bundled ? '' : ' (not bundled)'}`).join(', ')}; configured ${engines.onnx.executionProviders.join(', ')}, ${defaultThreads(engines.onnx.intraOpThreads, config.inference.workers)} intra-op thread(s) per worker`,
    );
  } catch (e) {
    out(`onnxruntime: unavailable (${(e as Error).message}); every model runs on tfjs`);
  }
  out(
    `inference.engine: ${engines.engine}${Object.keys(engines.models).length ? `, overrides ${JSON.stringify(engines.models)}` : ''}`,
  );
  let plan = stageSettings(loadPipeline(config.pipeline));
  const rec = plan.recognize ?? stageSettings(loadPipeline('recognize')).recognize;
  const detect = plan.detect ?? stageSettings(loadPipeline('detect')).detect;
  plan = { ...plan, detect, recognize: rec };
  const host = new InferenceHost({
    workers: 1,
    backend: config.inference.backend,
    engines,
    tasks: [
      detectTask({ model: detect?.model ?? 'blazeface', options: { ...DEFAULT_DETECTOR, ...detect } }),
      ...(rec ? [embedTask({ model: rec.model, align: rec.align, context: rec.context })] : []),
    ],
  });
  try {
    await host.start();
    for (const r of host.models) out(`model ${describeReport(r)}`);
  } finally {
    await host.close();
  }
}
