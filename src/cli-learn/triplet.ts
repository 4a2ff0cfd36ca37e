/** `vigil learn triplet`: a projection head trained with the triplet loss, written with its figures. */
import type { Command } from 'commander';
import { fail, num } from '../cli-options.js';
import type { Sample } from '../faces/learn/data.js';
import type { EpochStats } from '../faces/learn/train.js';
import {
  type EmbedOpts,
  embedded,
  embedOptions,
  err,
  f3,
  type HeadOpts,
  headOptions,
  headRecipe,
  out,
} from './options.js';

type TripletOpts = EmbedOpts & HeadOpts & { out: string; val: number };

export function registerTripletCommand(learn: Command): void {
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
  ).action(async (o: TripletOpts) => {
    try {
      await trainTripletHead(o);
    } catch (e) {
      fail(e);
    }
  });
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

const identities = (s: Sample[]) => [...new Set(s.map((x) => x.identity))];

const logNap = (n: { dims: number; variance: number[]; totalVariance: number }) =>
  err(
    `[learn] nap: ${n.dims} direction(s) removed, holding ${((100 * n.variance.reduce((a, b) => a + b, 0)) / n.totalVariance).toFixed(1)}% of the within-identity variance`,
  );

const logEpoch = (s: EpochStats) =>
  err(
    `[learn] epoch ${s.epoch}/${s.epochs}  loss ${s.loss.toFixed(4)} (${s.triplets} triplets, ${(100 * s.semiHard).toFixed(0)}% semi-hard)` +
      (s.valTar !== undefined ? `  held-out TAR@FAR1% ${f3(s.valTar)} AUC ${s.valAuc?.toFixed(4)}` : '') +
      `  ${s.ms.toFixed(0)} ms`,
  );

async function trainTripletHead(o: TripletOpts): Promise<void> {
  const { splitIdentities } = await import('../faces/learn/data.js');
  const { trainTriplet, pairFigures, projectItems, transientHead } = await import('../faces/learn/train.js');
  const { saveHead, DEFAULT_HEAD_RECIPE, learnedDir } = await import('../faces/learn/head.js');
  const e = await embedded(o);
  const { train, test: val } = splitIdentities(e.samples, o.val, o.seed);
  err(
    `[learn] training on ${identities(train).length} identities (${train.length} images), validating on ${identities(val).length} (${val.length})`,
  );
  const recipe = { ...DEFAULT_HEAD_RECIPE, ...headRecipe(o) };
  const t0 = performance.now();
  const r = await trainTriplet(train, { recipe, val, onNap: logNap, progress: logEpoch });
  const head = transientHead(r.params, recipe, r.inDim, r.outDim);
  const trainFig = pairFigures(projectItems(head, train));
  const validation = val.length
    ? {
        raw: pairFigures(val),
        head: pairFigures(projectItems(head, val)),
        identities: identities(val).length,
        images: val.length,
      }
    : undefined;
  const saved = saveHead(
    o.out,
    {
      base: { model: e.settings.model, space: e.space, dim: e.dim },
      data: {
        dirs: o.dir,
        trainIdentities: identities(train),
        valIdentities: identities(val),
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
  out(`head written to ${learnedDir(o.out)} (${saved.manifest.recipe.kind}, ${r.inDim} -> ${r.outDim})`);
  if (validation)
    out(
      `held-out identities (${validation.identities}): TAR@FAR1% raw ${f3(validation.raw.tarAtFar1)} -> head ${f3(validation.head.tarAtFar1)}, AUC ${validation.raw.auc.toFixed(4)} -> ${validation.head.auc.toFixed(4)}`,
    );
}
