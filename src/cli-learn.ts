import { join } from 'node:path';
import { type Command, Option } from 'commander';
import { fail, num } from './cli-options.js';
import { loadConfig } from './config/load.js';
import { PROJECT_ROOT } from './util/paths.js';

/**
 * `vigil learn triplet|verifier|eval` (learned heads on frozen embeddings, docs/learning.md), `vigil
 * eval learn` (the same evaluation under `eval`, when that command exists) and `vigil unknowns`
 * (unknown-face clusters). Registered by src/cli.ts: `registerLearnCommands(program)`.
 */

const DEFAULT_CONFIG = join(PROJECT_ROOT, 'config', 'default.yaml');

const err = (m: string) => process.stderr.write(`${m}\n`);
const out = (v: unknown) =>
  process.stdout.write(`${typeof v === 'string' ? v : JSON.stringify(v, null, 2)}\n`);

interface EmbedOpts {
  dir: string[];
  augment?: string[];
  model?: string;
  context?: number;
  align?: boolean;
  backend: string;
}

interface HeadOpts {
  kind: 'linear' | 'mlp';
  init: 'identity' | 'nap';
  napDims: number;
  outDim: number;
  hidden: number;
  alpha: number;
  epochs: number;
  lr: number;
  weightDecay: number;
  batch: number;
  perIdentity: number;
  noise: number;
  seed: number;
}

interface VerifierOpts {
  vEpochs: number;
  vLr: number;
  vWeightDecay: number;
  impostorRatio: number;
  seed: number;
}

function embedOptions(c: Command): Command {
  return c
    .option('-m, --model <name>', 'embedding model (default: the recognize pipeline)')
    .option('--context <x>', 'crop context (default: the recognize pipeline)', num('--context', 0.8, 3))
    .option('--align', 'keypoint alignment (default: the recognize pipeline)')
    .option('-b, --backend <name>', 'inference backend for embedding the images', 'auto')
    .addOption(
      new Option(
        '--augment <kind...>',
        'also train on transformed copies: gray (grayscale copies of colour images)',
      ).choices(['gray']),
    );
}

function headOptions(c: Command): Command {
  return c
    .addOption(
      new Option('--kind <kind>', 'head: linear, or mlp (2 layers, ReLU)')
        .choices(['linear', 'mlp'])
        .default('linear'),
    )
    .addOption(
      new Option(
        '--init <how>',
        "linear head start (and weight-pull anchor): identity (the raw embedding), or nap (project out the directions in which one person's images vary most)",
      )
        .choices(['identity', 'nap'])
        .default('identity'),
    )
    .option('--nap-dims <k>', 'directions removed by --init nap', num('--nap-dims', 1, 512, true), 2)
    .option(
      '--out-dim <n>',
      'output dimension (0: same as the embedding)',
      num('--out-dim', 0, 4096, true),
      0,
    )
    .option('--hidden <n>', 'hidden units of the mlp head', num('--hidden', 1, 4096, true), 256)
    .option('--alpha <x>', 'triplet margin (squared distance on the unit sphere)', num('--alpha', 0, 4), 0.2)
    .option(
      '--epochs <n>',
      'training epochs (0 with --init nap: the projection alone)',
      num('--epochs', 0, 100000, true),
      60,
    )
    .option('--lr <x>', 'Adam learning rate', num('--lr', 0, 1), 1e-3)
    .option(
      '--weight-decay <x>',
      'L2 pull of the weights towards their start (--init)',
      num('--weight-decay', 0, 1e6),
      1e-2,
    )
    .option('--batch <n>', 'images per batch', num('--batch', 4, 4096, true), 96)
    .option(
      '--per-identity <n>',
      'most images of one identity per batch',
      num('--per-identity', 2, 1000, true),
      8,
    )
    .option('--noise <x>', 'Gaussian noise added to training embeddings', num('--noise', 0, 1), 0)
    .option('--seed <n>', 'random seed', num('--seed', 0, 2 ** 31, true), 1);
}

function verifierOptions(c: Command, prefix = ''): Command {
  return c
    .option(`--${prefix}epochs <n>`, 'verifier epochs', num('epochs', 1, 100000, true), 60)
    .option(`--${prefix}lr <x>`, 'verifier Adam learning rate', num('lr', 0, 1), 0.01)
    .option(
      `--${prefix}weight-decay <x>`,
      'L2 pull of the verifier towards the cosine-only rule',
      num('weight decay', 0, 1e6),
      10,
    )
    .option(
      '--impostor-ratio <x>',
      'impostor pairs per genuine pair per epoch',
      num('--impostor-ratio', 0.1, 100),
      1,
    );
}

const headRecipe = (o: HeadOpts) => ({
  kind: o.kind,
  init: o.init,
  napDims: o.napDims,
  outDim: o.outDim,
  hiddenDim: o.hidden,
  alpha: o.alpha,
  epochs: o.epochs,
  lr: o.lr,
  weightDecay: o.weightDecay,
  batchSize: o.batch,
  perIdentity: o.perIdentity,
  inputNoise: o.noise,
  seed: o.seed,
});

async function embedded(o: EmbedOpts) {
  const { embedSets, recognizeEmbedSettings } = await import('./faces/learn/data.js');
  const settings = recognizeEmbedSettings({
    backend: o.backend as 'auto',
    ...(o.model ? { model: o.model } : {}),
    ...(o.context ? { context: o.context } : {}),
    ...(o.align ? { align: true } : {}),
  });
  const r = await embedSets(o.dir, settings, (m) => err(`[learn] ${m}`), {
    augment: o.augment as Array<'gray'> | undefined,
  });
  return { ...r, settings };
}

type PairFig = { thresholdAtFar1: number; tarAtFar1: number; genuine: number; impostor: number };

/**
 * The head's decision threshold: FAR 1% on its training pairs, raised to FAR 1% on the held-out
 * identities' pairs when that is stricter (a head fits its training identities; unseen ones sit closer).
 */
function headThreshold(train: PairFig, val?: PairFig) {
  const useVal = val && val.thresholdAtFar1 > train.thresholdAtFar1;
  const f = useVal ? val : train;
  return {
    similarity: Number(f.thresholdAtFar1.toFixed(4)),
    far: 0.01,
    tar: f.tarAtFar1,
    measuredOn: `${useVal ? 'held-out' : 'training'} pairs (${f.genuine} genuine, ${f.impostor} impostor)`,
  };
}

const f3 = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(3));

export function registerLearnCommands(program: Command): void {
  const learn = program
    .command('learn')
    .description('train small learned heads on frozen face embeddings (docs/learning.md)');

  headOptions(
    embedOptions(
      learn
        .command('triplet')
        .description('train a projection head with the triplet loss (FaceNet mining) on folders per identity')
        .requiredOption('-d, --dir <dir...>', 'labelled folder(s): one sub-folder per identity')
        .requiredOption('-o, --out <dir>', 'output folder, e.g. models/heads/NAME')
        .option(
          '--val <fraction>',
          'identities held out for validation (0: none)',
          num('--val', 0, 0.9),
          0.25,
        ),
    ),
  ).action(async (o: EmbedOpts & HeadOpts & { out: string; val: number }) => {
    try {
      const { splitIdentities } = await import('./faces/learn/data.js');
      const { trainTriplet, pairFigures, projectItems, transientHead } = await import(
        './faces/learn/train.js'
      );
      const { saveHead, DEFAULT_HEAD_RECIPE } = await import('./faces/learn/head.js');
      const e = await embedded(o);
      const { train, test: val } = splitIdentities(e.samples, o.val, o.seed);
      const ids = (s: typeof train) => [...new Set(s.map((x) => x.identity))];
      err(
        `[learn] training on ${ids(train).length} identities (${train.length} images), validating on ${ids(val).length} (${val.length})`,
      );
      const recipe = { ...DEFAULT_HEAD_RECIPE, ...headRecipe(o) };
      const t0 = performance.now();
      const r = await trainTriplet(train, {
        recipe,
        val,
        onNap: (n) =>
          err(
            `[learn] nap: ${n.dims} direction(s) removed, holding ${((100 * n.variance.reduce((a, b) => a + b, 0)) / n.totalVariance).toFixed(1)}% of the within-identity variance`,
          ),
        progress: (s) =>
          err(
            `[learn] epoch ${s.epoch}/${s.epochs}  loss ${s.loss.toFixed(4)} (${s.triplets} triplets, ${(100 * s.semiHard).toFixed(0)}% semi-hard)` +
              (s.valTar !== undefined
                ? `  held-out TAR@FAR1% ${f3(s.valTar)} AUC ${s.valAuc?.toFixed(4)}`
                : '') +
              `  ${s.ms.toFixed(0)} ms`,
          ),
      });
      const head = transientHead(r.params, recipe, r.inDim, r.outDim);
      const trainFig = pairFigures(projectItems(head, train));
      const validation = val.length
        ? {
            raw: pairFigures(val),
            head: pairFigures(projectItems(head, val)),
            identities: ids(val).length,
            images: val.length,
          }
        : undefined;
      const saved = saveHead(
        o.out,
        {
          base: { model: e.settings.model, space: e.space, dim: e.dim },
          data: {
            dirs: o.dir,
            trainIdentities: ids(train),
            valIdentities: ids(val),
            trainImages: train.length,
            valImages: val.length,
          },
          created: new Date().toISOString(),
          recipe,
          inDim: r.inDim,
          outDim: r.outDim,
          validation: {
            ...validation,
            finalLoss: r.history.at(-1)?.loss,
            trainSeconds: (performance.now() - t0) / 1000,
          },
          threshold: headThreshold(trainFig, validation?.head),
        },
        r.params,
      );
      const { learnedDir } = await import('./faces/learn/head.js');
      out(`head written to ${learnedDir(o.out)} (${saved.manifest.recipe.kind}, ${r.inDim} -> ${r.outDim})`);
      if (validation)
        out(
          `held-out identities (${validation.identities}): TAR@FAR1% raw ${f3(validation.raw.tarAtFar1)} -> head ${f3(validation.head.tarAtFar1)}, AUC ${validation.raw.auc.toFixed(4)} -> ${validation.head.auc.toFixed(4)}`,
        );
    } catch (e) {
      fail(e);
    }
  });

  verifierOptions(
    embedOptions(
      learn
        .command('verifier')
        .description(
          'train a same/different verifier (logistic regression on pair features) on folders per identity',
        )
        .requiredOption('-d, --dir <dir...>', 'labelled folder(s): one sub-folder per identity')
        .requiredOption('-o, --out <dir>', 'output folder, e.g. models/heads/NAME-verifier')
        .option(
          '--val <fraction>',
          'identities held out for validation (0: none)',
          num('--val', 0, 0.9),
          0.25,
        )
        .option('--seed <n>', 'random seed', num('--seed', 0, 2 ** 31, true), 1),
    ),
  ).action(
    async (
      o: EmbedOpts & {
        out: string;
        val: number;
        seed: number;
        epochs: number;
        lr: number;
        weightDecay: number;
        impostorRatio: number;
      },
    ) => {
      try {
        const { splitIdentities } = await import('./faces/learn/data.js');
        const { trainVerifier, saveVerifier, verifierLogit } = await import('./faces/learn/verifier.js');
        const { figures } = await import('./faces/learn/evaluate.js');
        const { dot, tarAtFar } = await import('./faces/metrics.js');
        const { scorePairs } = await import('./faces/learn/evaluate.js');
        const { learnedDir } = await import('./faces/learn/head.js');
        const e = await embedded(o);
        const { train, test: val } = splitIdentities(e.samples, o.val, o.seed);
        const ids = (s: typeof train) => [...new Set(s.map((x) => x.identity))];
        err(
          `[learn] verifier: training on ${ids(train).length} identities, validating on ${ids(val).length}`,
        );
        const r = await trainVerifier(train, {
          recipe: {
            epochs: o.epochs,
            lr: o.lr,
            weightDecay: o.weightDecay,
            impostorRatio: o.impostorRatio,
            seed: o.seed,
          },
          progress: (s) => {
            if (s.epoch % 10 === 0 || s.epoch === s.epochs)
              err(
                `[learn] verifier epoch ${s.epoch}/${s.epochs}  log-loss ${s.loss.toFixed(4)}  ${s.ms.toFixed(0)} ms`,
              );
          },
        });
        const v = r.verifier;
        const rawP = scorePairs(train, dot);
        const rawThr = tarAtFar(rawP.genuine, rawP.impostor, 0.01).threshold;
        const validation = val.length
          ? {
              raw: figures(val, dot, rawThr),
              verifier: figures(val, (a, b) => verifierLogit(v, a, b), v.manifest.threshold.logit),
              identities: ids(val).length,
            }
          : undefined;
        saveVerifier(
          o.out,
          {
            base: { model: e.settings.model, space: e.space, dim: e.dim },
            data: {
              dirs: o.dir,
              trainIdentities: ids(train),
              valIdentities: ids(val),
              trainImages: train.length,
              valImages: val.length,
            },
            created: new Date().toISOString(),
            recipe: r.recipe,
            featureDim: v.manifest.featureDim,
            threshold: v.manifest.threshold,
            validation,
          },
          v.params,
        );
        out(
          `verifier written to ${learnedDir(o.out)}: threshold p >= ${v.manifest.threshold.probability.toPrecision(4)} (FAR ${f3(v.manifest.threshold.far)} / TAR ${f3(v.manifest.threshold.tar)} on training pairs)`,
        );
        if (validation)
          out(
            `held-out identities (${validation.identities}): TAR@FAR1% raw ${f3(validation.raw.tarAtFar1)} -> verifier ${f3(validation.verifier.tarAtFar1)}, AUC ${validation.raw.auc.toFixed(4)} -> ${validation.verifier.auc.toFixed(4)}`,
          );
      } catch (e) {
        fail(e);
      }
    },
  );

  const evalAction = async (
    o: EmbedOpts &
      HeadOpts &
      VerifierOpts & { train?: string[]; test?: string[]; folds: number; repeats: number; json?: string },
  ) => {
    try {
      const ev = await import('./faces/learn/evaluate.js');
      const dirs = o.train || o.test ? [...(o.train ?? []), ...(o.test ?? [])] : o.dir;
      if (!dirs?.length)
        throw new Error('give --dir (k-fold over identities) or --train and --test (cross-set)');
      if (Boolean(o.train) !== Boolean(o.test)) throw new Error('--train and --test go together');
      const e = await embedded({ ...o, dir: dirs });
      const head = headRecipe(o);
      const verifier = {
        epochs: o.vEpochs,
        lr: o.vLr,
        weightDecay: o.vWeightDecay,
        impostorRatio: o.impostorRatio,
        seed: o.seed,
      };
      const progress = (m: string) => err(`[learn eval] ${m}`);
      const { basename, resolve } = await import('node:path');
      let res: {
        splits: Awaited<ReturnType<typeof ev.evaluateSplit>>[];
        summary: ReturnType<typeof ev.summarize>;
      };
      let protocol: string;
      if (o.train && o.test) {
        const trainSets = new Set(o.train.map((d) => basename(resolve(d))));
        const tr = e.samples.filter((s) => trainSets.has(s.set));
        const te = e.samples.filter((s) => !trainSets.has(s.set));
        protocol = `train on ${[...trainSets].join(' + ')}, test on ${[...new Set(te.map((s) => s.set))].join(' + ')}`;
        progress(protocol);
        const split = await ev.evaluateSplit(tr, te, { head, verifier, progress });
        res = { splits: [split], summary: ev.summarize([split]) };
      } else {
        protocol = `${o.folds}-fold over identities of ${[...new Set(e.samples.map((s) => s.set))].join(' + ')} (stratified by set), ${o.repeats} repeat(s)`;
        progress(protocol);
        res = await ev.crossValidate(e.samples, {
          folds: o.folds,
          repeats: o.repeats,
          seed: o.seed,
          head,
          verifier,
          progress,
        });
      }
      out(
        `model ${e.settings.model} (${e.space}); ${protocol}; figures on test identities only, mean over splits`,
      );
      out(ev.summaryTable(res.summary));
      if (o.json) {
        const { writeFileSync } = await import('node:fs');
        writeFileSync(
          o.json,
          `${JSON.stringify({ date: new Date().toISOString(), model: e.settings.model, space: e.space, protocol, head, verifier, ...res }, null, 2)}\n`,
        );
        out(`written ${o.json}`);
      }
    } catch (e) {
      fail(e);
    }
  };

  const evalOptions = (c: Command) =>
    verifierOptions(
      headOptions(
        embedOptions(
          c
            .option('-d, --dir <dir...>', 'labelled folders: k-fold cross-validation over their identities')
            .option('--train <dir...>', 'cross-set: train on these folders...')
            .option('--test <dir...>', '...and test on these')
            .option(
              '-k, --folds <n>',
              'folds over identities (stratified by set)',
              num('--folds', 2, 100, true),
              2,
            )
            .option(
              '--repeats <n>',
              'repeat the k-fold with other shuffles',
              num('--repeats', 1, 100, true),
              1,
            )
            .option('--json <file>', 'also write the results as JSON'),
        ),
      ),
      'v-',
    ).action(evalAction);

  evalOptions(
    learn
      .command('eval')
      .description(
        'raw embedding vs triplet head vs verifier on identities never trained on (rank-1, TAR@FAR, AUC)',
      ),
  );
  const evalCmd = program.commands.find((c) => c.name() === 'eval');
  if (evalCmd)
    evalOptions(
      evalCmd.command('learn').description('same as vigil learn eval: learned heads on held-out identities'),
    );

  registerUnknownCommands(program);
}

/** `vigil unknowns` (list), `unknowns name`, `unknowns search`, `unknowns delete`. */
function registerUnknownCommands(program: Command): void {
  const withStore = async <T>(
    configFile: string,
    fn: (s: {
      store: import('./faces/unknowns/store.js').UnknownStore;
      gallery: import('./faces/gallery/gallery.js').Gallery;
    }) => Promise<T> | T,
  ): Promise<T> => {
    const { openUnknowns } = await import('./faces/unknowns/open.js');
    const u = await openUnknowns(loadConfig(configFile));
    try {
      return await fn(u);
    } finally {
      u.close();
    }
  };
  const when = (ms: number) => new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
  const unknowns = program
    .command('unknowns')
    .description('faces nobody enrolled, seen on the cameras, grouped per person');
  unknowns
    .command('list', { isDefault: true })
    .description('list unknown-face clusters (most recently seen first)')
    .option('-c, --config <file>', 'YAML configuration (data directory, pipeline)', DEFAULT_CONFIG)
    .option('--min <n>', 'only clusters seen at least this often', num('--min', 1, 1e9, true), 1)
    .option('--camera <id>', 'only clusters seen on this camera')
    .option('--json', 'JSON output')
    .action(async (o: { config: string; min: number; camera?: string; json?: boolean }) => {
      try {
        const list = await withStore(o.config, ({ store }) =>
          store.list({ minSightings: o.min, camera: o.camera, limit: 1000 }),
        );
        if (o.json) out(list);
        else if (!list.length) out('no unknown faces stored');
        else
          for (const c of list)
            out(
              `${String(c.id).padStart(6)}  ${c.summary} (${c.tracks} track(s), last ${when(c.lastSeen)}, cohesion ${c.cohesion.toFixed(2)})`,
            );
      } catch (e) {
        fail(e);
      }
    });
  unknowns
    .command('name')
    .description("enroll an unknown-face cluster's faces as a person (and remove the cluster)")
    .argument('<cluster>', 'cluster id', num('cluster', 1, Number.MAX_SAFE_INTEGER, true))
    .requiredOption('-n, --name <name>', "the person's name")
    .option('--append', 'add the faces to an existing person of that name')
    .option(
      '--max-photos <n>',
      'most faces enrolled (varied ones are chosen)',
      num('--max-photos', 1, 1000, true),
      20,
    )
    .option('-c, --config <file>', 'YAML configuration', DEFAULT_CONFIG)
    .action(
      async (cluster: number, o: { name: string; append?: boolean; maxPhotos: number; config: string }) => {
        try {
          const r = await withStore(o.config, ({ store, gallery }) =>
            store.name(cluster, o.name, gallery, { maxPhotos: o.maxPhotos, append: o.append }),
          );
          out(
            `enrolled ${r.person.name} (id ${r.person.id}) with ${r.photos} face(s) of ${r.sightings} sighting(s); cluster ${cluster} removed`,
          );
        } catch (e) {
          fail(e);
        }
      },
    );
  unknowns
    .command('search')
    .description('past sightings among stored unknown faces that match an enrolled person')
    .requiredOption('-p, --person <name>', 'enrolled person (name or id)')
    .option(
      '--threshold <sim>',
      'similarity threshold (default: the calibrated one)',
      num('--threshold', -1, 1),
    )
    .option('--limit <n>', 'most sightings listed', num('--limit', 1, 100000, true), 200)
    .option('-c, --config <file>', 'YAML configuration', DEFAULT_CONFIG)
    .option('--json', 'JSON output')
    .action(
      async (o: { person: string; threshold?: number; limit: number; config: string; json?: boolean }) => {
        try {
          const hits = await withStore(o.config, ({ store, gallery }) => {
            const p = /^\d+$/.test(o.person)
              ? gallery.person(Number(o.person))
              : gallery.findByName(o.person);
            if (!p) throw new Error(`nobody named "${o.person}" is enrolled`);
            return store.searchPerson(p.id, gallery, { threshold: o.threshold, limit: o.limit });
          });
          if (o.json) out(hits);
          else if (!hits.length) out('no matching sightings');
          else
            for (const h of hits)
              out(
                `${when(h.time)}  camera ${h.camera}  track ${h.trackId}  similarity ${h.similarity.toFixed(3)}  (cluster ${h.clusterId}, sighting ${h.id})`,
              );
        } catch (e) {
          fail(e);
        }
      },
    );
  unknowns
    .command('delete')
    .description('forget an unknown-face cluster and its sightings')
    .argument('<cluster>', 'cluster id', num('cluster', 1, Number.MAX_SAFE_INTEGER, true))
    .option('-c, --config <file>', 'YAML configuration', DEFAULT_CONFIG)
    .action(async (cluster: number, o: { config: string }) => {
      try {
        await withStore(o.config, ({ store }) => store.deleteCluster(cluster));
        out(`cluster ${cluster} deleted`);
      } catch (e) {
        fail(e);
      }
    });
}
