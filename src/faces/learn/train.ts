import type { Scalar, Tensor, Variable } from '@tensorflow/tfjs-core';
import { Adam } from './adam.js';
import { type Labeled, pairScores, rocAuc, tarAtFar } from '../metrics.js';
import { labelsOf } from './data.js';
import {
  applyHead,
  DEFAULT_HEAD_RECIPE,
  type Head,
  type HeadManifest,
  type HeadRecipe,
  headForward,
  initParams,
  paramShapes,
} from './head.js';
import { nuisanceDirections, projectionMatrix } from './nap.js';
import { normalize, Rng } from '../../util/rng.js';
import { loadTf, type Tf } from './tf.js';
import { mineTriplets, type Triplets, tripletLoss } from './triplet.js';

export interface EpochStats {
  epoch: number;
  epochs: number;
  /** Triplet loss summed over the epoch's batches (before the weight pull). */
  loss: number;
  /** Mean loss per mined triplet. */
  lossPerTriplet: number;
  triplets: number;
  /** Share of triplets that got a semi-hard negative. */
  semiHard: number;
  /** Held-out identities, when given: TAR at FAR 1% and ROC AUC of the head's similarities. */
  valTar?: number;
  valAuc?: number;
  ms: number;
}

/** Verification figures of a set of embeddings (all pairs). */
export function pairFigures(items: Labeled[]): {
  tarAtFar1: number;
  tarAtFar01: number;
  auc: number;
  thresholdAtFar1: number;
  genuine: number;
  impostor: number;
} {
  const { genuine, impostor } = pairScores(items);
  const f1 = tarAtFar(genuine, impostor, 0.01);
  return {
    tarAtFar1: f1.tar,
    tarAtFar01: tarAtFar(genuine, impostor, 0.001).tar,
    auc: rocAuc(genuine, impostor),
    thresholdAtFar1: f1.threshold,
    genuine: genuine.length,
    impostor: impostor.length,
  };
}

/**
 * FaceNet-style batches: identities shuffled, each contributing up to `perIdentity` of its images
 * (a random subset), until a batch holds `batchSize` images. A trailing batch with a single identity
 * (no negatives) joins the previous one.
 */
export function makeBatches(labels: Int32Array, recipe: HeadRecipe, rng: Rng): number[][] {
  const byId = new Map<number, number[]>();
  labels.forEach((l, i) => {
    const a = byId.get(l) ?? [];
    a.push(i);
    byId.set(l, a);
  });
  const batches: number[][] = [];
  let cur: number[] = [];
  for (const id of rng.shuffle([...byId.keys()])) {
    const take = rng.shuffle(byId.get(id) as number[]).slice(0, recipe.perIdentity);
    if (cur.length && cur.length + take.length > recipe.batchSize) {
      batches.push(cur);
      cur = [];
    }
    cur.push(...take);
  }
  if (cur.length) {
    const ids = new Set(cur.map((i) => labels[i]));
    const prev = batches.at(-1);
    if (ids.size < 2 && prev) prev.push(...cur);
    else batches.push(cur);
  }
  return batches;
}

const oneHot = (idx: number[], n: number) => {
  const m = new Float32Array(idx.length * n);
  idx.forEach((j, t) => {
    m[t * n + j] = 1;
  });
  return m;
};

export interface TrainResult {
  params: Record<string, Float32Array>;
  history: EpochStats[];
  inDim: number;
  outDim: number;
}

interface TripletOptions {
  recipe?: Partial<HeadRecipe>;
  val?: Labeled[];
  /** Evaluate on `val` every this many epochs (and after the last). */
  evalEvery?: number;
  progress?: (s: EpochStats) => void;
  /** With `init: nap`: the within-identity variance along each removed direction, and in all. */
  onNap?: (n: { dims: number; variance: number[]; totalVariance: number }) => void;
}

/** What one training run holds: the data, the head's variables and start, the optimiser. */
interface TripletRun {
  tf: Tf;
  recipe: HeadRecipe;
  X: Float32Array;
  labels: Int32Array;
  inDim: number;
  outDim: number;
  rng: Rng;
  vars: Record<string, Variable>;
  /** The start weights, which the weight pull (weightDecay) draws towards. */
  init0: Record<string, Tensor>;
  decayed: string[];
  optimizer: Adam;
}

/**
 * Trains a projection head with the triplet loss on frozen embeddings (tfjs, main thread). Each
 * batch: forward pass, squared distances on the unit sphere, triplets mined in the batch
 * (semi-hard, else hardest), then the mean loss of those triplets plus `weightDecay` * ||W - W0||^2
 * minimised with Adam. Every tensor is released: tf.memory().numTensors is the same after as before.
 */
export async function trainTriplet(train: Labeled[], opts: TripletOptions = {}): Promise<TrainResult> {
  const recipe: HeadRecipe = { ...DEFAULT_HEAD_RECIPE, ...opts.recipe };
  const tf = await loadTf();
  const { labels, X, inDim, outDim, init } = prepareTraining(train, recipe, opts.onNap);
  const rng = new Rng(recipe.seed);
  const shapes = paramShapes(recipe, inDim);
  const vars: Record<string, Variable> = {};
  const init0: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(init)) {
    vars[k] = tf.tidy(() => tf.variable(tf.tensor(v, shapes[k]), true)); // the initial tensor is freed
    init0[k] = tf.tensor(v, shapes[k]);
  }
  const decayed = Object.keys(init).filter((k) => k.startsWith('W'));
  const optimizer = new Adam(tf, recipe.lr);
  const run: TripletRun = { tf, recipe, X, labels, inDim, outDim, rng, vars, init0, decayed, optimizer };
  const history: EpochStats[] = [];
  const evalEvery = opts.evalEvery ?? Math.max(1, Math.round(recipe.epochs / 10));
  try {
    for (let epoch = 1; epoch <= recipe.epochs; epoch++) {
      const stats = await trainEpoch(run, epoch);
      if (opts.val?.length && (epoch % evalEvery === 0 || epoch === recipe.epochs)) {
        const head = await snapshotHead(vars, recipe, inDim, outDim);
        const f = pairFigures(projectItems(head, opts.val));
        stats.valTar = f.tarAtFar1;
        stats.valAuc = f.auc;
      }
      history.push(stats);
      opts.progress?.(stats);
    }
    const params: Record<string, Float32Array> = {};
    for (const [k, v] of Object.entries(vars)) params[k] = (await v.data()) as Float32Array;
    return { params, history, inDim, outDim };
  } finally {
    optimizer.dispose();
    tf.dispose(Object.values(vars));
    tf.dispose(Object.values(init0));
  }
}

/** Checks the data and recipe, and makes the embedding matrix and the head's start weights. */
function prepareTraining(train: Labeled[], recipe: HeadRecipe, onNap: TripletOptions['onNap']) {
  const n = train.length;
  const inDim = train[0]?.embedding.length ?? 0;
  if (n < 2 || !inDim) throw new Error('learn: need at least two embedded images to train');
  const { labels, names } = labelsOf(train);
  if (names.length < 2) throw new Error('learn: need at least two identities to train');
  const outDim = recipe.outDim || inDim;
  const X = new Float32Array(n * inDim);
  train.forEach((s, i) => {
    X.set(s.embedding, i * inDim);
  });
  if (recipe.epochs === 0 && recipe.init !== 'nap')
    throw new Error(
      'learn: --epochs 0 leaves the raw embedding; train at least one epoch, or use --init nap',
    );
  const init = initParams(recipe, inDim);
  if (recipe.init === 'nap') {
    if (recipe.kind !== 'linear' || outDim !== inDim)
      throw new Error(
        `learn: --init nap needs a linear head of the embedding's size (got --kind ${recipe.kind}, output ${outDim} for input ${inDim})`,
      );
    const nap = nuisanceDirections(train, recipe.napDims ?? 2, { seed: recipe.seed });
    init.W = projectionMatrix(nap.directions, inDim);
    onNap?.({ dims: nap.k, variance: nap.variance, totalVariance: nap.totalVariance });
  }
  return { labels, X, inDim, outDim, init };
}

/** One pass over the training set in mined batches; the epoch's figures (no validation yet). */
async function trainEpoch(run: TripletRun, epoch: number): Promise<EpochStats> {
  const t0 = performance.now();
  let lossSum = 0;
  let triplets = 0;
  let semi = 0;
  for (const batch of makeBatches(run.labels, run.recipe, run.rng)) {
    const r = await trainBatch(run, batch);
    if (!r) continue;
    lossSum += r.loss;
    triplets += r.triplets;
    semi += r.semiHard;
  }
  return {
    epoch,
    epochs: run.recipe.epochs,
    loss: lossSum,
    lossPerTriplet: triplets ? lossSum / triplets : 0,
    triplets,
    semiHard: triplets ? semi / triplets : 0,
    ms: performance.now() - t0,
  };
}

/** The batch's embeddings, with Gaussian input noise (renormalised) when the recipe asks for it. */
function batchRows(run: TripletRun, batch: number[]): Float32Array {
  const { X, inDim, recipe, rng } = run;
  const xb = new Float32Array(batch.length * inDim);
  batch.forEach((i, r) => {
    const row = X.subarray(i * inDim, (i + 1) * inDim);
    if (recipe.inputNoise > 0) {
      const v = Float32Array.from(row, (x) => x + rng.normal() * recipe.inputNoise);
      xb.set(normalize(v), r * inDim);
    } else xb.set(row, r * inDim);
  });
  return xb;
}

/** Mines the batch's triplets with the current head and takes one Adam step on them (none: undefined). */
async function trainBatch(
  run: TripletRun,
  batch: number[],
): Promise<{ loss: number; triplets: number; semiHard: number } | undefined> {
  const { tf, recipe, vars } = run;
  const B = batch.length;
  const xb = batchRows(run, batch);
  const lb = batch.map((i) => run.labels[i] as number);
  const x = tf.tensor2d(xb, [B, run.inDim]);
  try {
    // Mining pass: the current head's squared distances (2 - 2 cos on the unit sphere).
    const dist = tf.tidy(() => {
      const e = headForward(tf, recipe.kind, vars, x);
      return tf.sub(2, tf.mul(tf.matMul(e, tf.transpose(e)), 2));
    });
    const d = await dist.data();
    dist.dispose();
    const t = mineTriplets(d, lb, recipe.alpha);
    if (!t.anchors.length) return undefined;
    const loss = await tripletStep(run, x, t, B);
    return { loss, triplets: t.anchors.length, semiHard: t.kinds.filter((k) => k === 'semi-hard').length };
  } finally {
    x.dispose();
  }
}

/** One Adam step on the mean loss of triplets `t` plus the weight pull; the summed loss. */
async function tripletStep(run: TripletRun, x: Tensor, t: Triplets, B: number): Promise<number> {
  const { tf, recipe, vars, init0 } = run;
  const T = t.anchors.length;
  const A = tf.tensor2d(oneHot(t.anchors, B), [T, B]);
  const P = tf.tensor2d(oneHot(t.positives, B), [T, B]);
  const N = tf.tensor2d(oneHot(t.negatives, B), [T, B]);
  let raw: Tensor | undefined;
  try {
    const { value, grads } = tf.variableGrads(() => {
      const e = headForward(tf, recipe.kind, vars, x);
      const l = tripletLoss(tf, tf.matMul(A, e), tf.matMul(P, e), tf.matMul(N, e), recipe.alpha);
      raw = tf.keep(tf.clone(l));
      let total = tf.div(l, T);
      for (const k of run.decayed)
        total = tf.add(
          total,
          tf.mul(tf.sum(tf.square(tf.sub(vars[k] as Variable, init0[k] as Tensor))), recipe.weightDecay),
        );
      return total as Scalar;
    }, Object.values(vars));
    run.optimizer.step(vars, grads);
    value.dispose();
    tf.dispose(grads);
    return (await (raw as unknown as Tensor).data())[0] as number;
  } finally {
    tf.dispose([A, P, N]);
    if (raw) tf.dispose(raw);
  }
}

/** A head object from trained (or training) weights, without a manifest on disk. */
export function transientHead(
  params: Record<string, Float32Array>,
  recipe: HeadRecipe,
  inDim: number,
  outDim: number,
): Head {
  const manifest = {
    format: 'vigil-head',
    name: '(training)',
    recipe,
    inDim,
    outDim,
  } as unknown as HeadManifest;
  return { manifest, params };
}

async function snapshotHead(
  vars: Record<string, Variable>,
  recipe: HeadRecipe,
  inDim: number,
  outDim: number,
): Promise<Head> {
  const params: Record<string, Float32Array> = {};
  for (const [k, v] of Object.entries(vars)) params[k] = (await v.data()) as Float32Array;
  return transientHead(params, recipe, inDim, outDim);
}

/** Items with their embeddings passed through the head. */
export function projectItems<T extends Labeled>(head: Head, items: T[]): T[] {
  const out = applyHead(
    head,
    items.map((i) => i.embedding),
  );
  return items.map((it, i) => ({ ...it, embedding: out[i] as Float32Array }));
}
