import { basename } from 'node:path';
import type { Scalar, Tensor, Variable } from '@tensorflow/tfjs-core';
import { dot, type Labeled, tarAtFar } from '../metrics.js';
import { Adam } from './adam.js';
import { type LearnedBase, learnedDir, readLearned, writeLearned } from './head.js';
import { Rng } from '../../util/rng.js';
import { loadTf, type Tf } from './tf.js';

/**
 * Same / different verification learned on pairs: logistic regression on the pair features
 * [|a - b|, (a - b)^2, cos(a, b)] (2d + 1 values, standardised with the training pairs' mean and
 * spread). It starts from the logistic fit of the cosine alone (the bare-distance rule) and is pulled
 * towards it (L2 on w - w0), so with little data it stays close to that rule.
 */
export interface VerifierRecipe {
  epochs: number;
  lr: number;
  /**
   * L2 pull of the weights towards the cosine-only start. Strong by default (10): with 2d + 1 = 2049
   * features and tens of identities, weaker pulls over-fit (docs/learning.md has the sweep).
   */
  weightDecay: number;
  /** Impostor pairs sampled per genuine pair each epoch (1 = balanced). */
  impostorRatio: number;
  /** Pairs per gradient step. */
  batchSize: number;
  seed: number;
}

export const DEFAULT_VERIFIER_RECIPE: VerifierRecipe = {
  epochs: 60,
  lr: 0.01,
  weightDecay: 10,
  impostorRatio: 1,
  batchSize: 512,
  seed: 1,
};

export interface VerifierManifest extends LearnedBase {
  format: 'vigil-verifier';
  name: string;
  recipe: VerifierRecipe;
  features: 'absdiff+sqdiff+cos';
  featureDim: number;
  /** Decision threshold on the probability (and its log-odds): FAR 1% on the training pairs. */
  threshold: { probability: number; logit: number; far: number; tar: number; measuredOn: string };
  validation?: Record<string, unknown>;
}

export interface Verifier {
  manifest: Pick<VerifierManifest, 'threshold' | 'featureDim'> & Partial<VerifierManifest>;
  /** w [F], b [1], mu [F], sigma [F]. */
  params: Record<string, Float32Array>;
}

/** The pair features of two L2-normalised embeddings: [|a - b|, (a - b)^2, cos]. */
export function pairFeatures(a: Float32Array, b: Float32Array, out = new Float32Array(2 * a.length + 1)) {
  const d = a.length;
  if (b.length !== d) throw new Error(`verifier: embeddings of ${d} and ${b.length} values`);
  let c = 0;
  for (let i = 0; i < d; i++) {
    const x = (a[i] as number) - (b[i] as number);
    out[i] = Math.abs(x);
    out[d + i] = x * x;
    c += (a[i] as number) * (b[i] as number);
  }
  out[2 * d] = c;
  return out;
}

/** The verifier's log-odds that a and b are the same person. */
export function verifierLogit(v: Verifier, a: Float32Array, b: Float32Array): number {
  const { w, b: bias, mu, sigma } = v.params as Record<'w' | 'b' | 'mu' | 'sigma', Float32Array>;
  if (2 * a.length + 1 !== v.manifest.featureDim)
    throw new Error(`verifier takes ${(v.manifest.featureDim - 1) / 2}-d embeddings, got ${a.length} values`);
  const f = pairFeatures(a, b);
  let z = bias[0] as number;
  for (let i = 0; i < f.length; i++)
    z += (w[i] as number) * (((f[i] as number) - (mu[i] as number)) / (sigma[i] as number));
  return z;
}

/** P(same person | a, b) by the verifier. */
export function verifierProbability(v: Verifier, a: Float32Array, b: Float32Array): number {
  return 1 / (1 + Math.exp(-verifierLogit(v, a, b)));
}

export interface VerifierDecision {
  same: boolean;
  probability: number;
  /** Cosine similarity, for reference. */
  similarity: number;
  threshold: { probability: number };
}

/** Verification with the learned verifier instead of a bare similarity threshold. */
export function verifyWithVerifier(v: Verifier, a: Float32Array, b: Float32Array): VerifierDecision {
  const z = verifierLogit(v, a, b);
  const p = 1 / (1 + Math.exp(-z));
  return {
    same: z >= v.manifest.threshold.logit,
    probability: p,
    similarity: dot(a, b),
    threshold: { probability: v.manifest.threshold.probability },
  };
}

/** Every genuine and impostor pair (index pairs) of a labelled set. */
export function allPairs(items: Labeled[]): {
  genuine: Array<[number, number]>;
  impostor: Array<[number, number]>;
} {
  const genuine: Array<[number, number]> = [];
  const impostor: Array<[number, number]> = [];
  for (let i = 0; i < items.length; i++)
    for (let j = i + 1; j < items.length; j++)
      (items[i]?.identity === items[j]?.identity ? genuine : impostor).push([i, j]);
  return { genuine, impostor };
}

/** 1-D logistic regression (Newton's method) of labels on x: [w, b]. */
function logistic1d(x: number[], y: number[]): [number, number] {
  let w = 0;
  let b = 0;
  for (let it = 0; it < 50; it++) {
    let gw = 0;
    let gb = 0;
    let hww = 1e-6;
    let hwb = 0;
    let hbb = 1e-6;
    x.forEach((xi, i) => {
      const p = 1 / (1 + Math.exp(-(w * xi + b)));
      const r = p - (y[i] as number);
      const s = p * (1 - p);
      gw += r * xi;
      gb += r;
      hww += s * xi * xi;
      hwb += s * xi;
      hbb += s;
    });
    // a small ridge keeps separable data finite
    gw += 1e-2 * w;
    hww += 1e-2;
    const det = hww * hbb - hwb * hwb;
    const dw = (hbb * gw - hwb * gb) / det;
    const db = (hww * gb - hwb * gw) / det;
    w -= dw;
    b -= db;
    if (Math.abs(dw) + Math.abs(db) < 1e-9) break;
  }
  return [w, b];
}

export interface VerifierEpoch {
  epoch: number;
  epochs: number;
  loss: number;
  ms: number;
}

/** Per-feature mean and spread (standard deviation + 1e-6) of feature vectors. */
function standardisation(ref: Float32Array[], F: number): { mu: Float32Array; sigma: Float32Array } {
  const mu = new Float32Array(F);
  const sigma = new Float32Array(F);
  for (const f of ref) for (let i = 0; i < F; i++) mu[i] = (mu[i] as number) + (f[i] as number) / ref.length;
  for (const f of ref)
    for (let i = 0; i < F; i++)
      sigma[i] = (sigma[i] as number) + ((f[i] as number) - (mu[i] as number)) ** 2 / ref.length;
  for (let i = 0; i < F; i++) sigma[i] = Math.sqrt(sigma[i] as number) + 1e-6;
  return { mu, sigma };
}

/** What the verifier's Adam steps need: its variables, its start (the pull's anchor), the recipe. */
interface VerifierFit {
  tf: Tf;
  w: Variable;
  b: Variable;
  w0t: Tensor;
  adam: Adam;
  recipe: VerifierRecipe;
}

/** One Adam step on a batch of standardised features `X` ([n, F]) and labels: n x the mean loss. */
async function verifierStep(fit: VerifierFit, X: Float32Array, y: number[], F: number): Promise<number> {
  const { tf, w, b, w0t } = fit;
  const n = y.length;
  const xt = tf.tensor2d(X, [n, F]);
  const yt = tf.tensor2d(y, [n, 1]);
  try {
    const { value, grads } = tf.variableGrads(
      () =>
        tf.add(
          tf.div(
            tf.sum(tf.sub(tf.softplus(tf.add(tf.matMul(xt, w), b)), tf.mul(yt, tf.add(tf.matMul(xt, w), b)))),
            n,
          ),
          tf.mul(tf.sum(tf.square(tf.sub(w, w0t))), fit.recipe.weightDecay),
        ) as Scalar,
      [w, b],
    );
    fit.adam.step({ w, b } as Record<string, Variable>, grads as Record<string, Tensor>);
    const loss = ((await value.data())[0] as number) * n;
    value.dispose();
    tf.dispose(grads);
    return loss;
  } finally {
    tf.dispose([xt, yt]);
  }
}

/** The decision threshold: the logit at FAR 1% over every training pair. */
function calibrate(
  v: Verifier,
  train: Labeled[],
  genuine: Array<[number, number]>,
  impostor: Array<[number, number]>,
) {
  // log-odds, not probabilities: confident pairs would all round to p = 1 and tie
  const pg = genuine.map(([i, j]) =>
    verifierLogit(v, (train[i] as Labeled).embedding, (train[j] as Labeled).embedding),
  );
  const pi = impostor.map(([i, j]) =>
    verifierLogit(v, (train[i] as Labeled).embedding, (train[j] as Labeled).embedding),
  );
  const op = tarAtFar(pg, pi, 0.01);
  return {
    probability: 1 / (1 + Math.exp(-op.threshold)),
    logit: op.threshold,
    far: op.far,
    tar: op.tar,
    measuredOn: `training pairs (${pg.length} genuine, ${pi.length} impostor)`,
  };
}

/**
 * Trains the verifier on the pairs of `train` (identities as labels): each epoch all genuine pairs
 * and as many (x impostorRatio) impostor pairs drawn afresh, log-loss with Adam in tfjs. The decision
 * threshold is the probability at FAR 1% over all training pairs.
 */
export async function trainVerifier(
  train: Labeled[],
  opts: { recipe?: Partial<VerifierRecipe>; progress?: (e: VerifierEpoch) => void } = {},
): Promise<{ verifier: Verifier; history: VerifierEpoch[]; recipe: VerifierRecipe }> {
  const recipe = { ...DEFAULT_VERIFIER_RECIPE, ...opts.recipe };
  const tf = await loadTf();
  const d = train[0]?.embedding.length ?? 0;
  const F = 2 * d + 1;
  const { genuine, impostor } = allPairs(train);
  if (!genuine.length || !impostor.length)
    throw new Error('verifier: need genuine pairs (two images of someone) and impostor pairs (two people)');
  const rng = new Rng(recipe.seed);
  const feat = (p: [number, number]) =>
    pairFeatures((train[p[0]] as Labeled).embedding, (train[p[1]] as Labeled).embedding);
  const sample = (k: number) =>
    Array.from({ length: k }, () => impostor[rng.int(impostor.length)] as [number, number]);

  // standardisation from a balanced sample
  const ref = [...genuine, ...sample(genuine.length)].map(feat);
  const { mu, sigma } = standardisation(ref, F);
  const std = (f: Float32Array) => {
    for (let i = 0; i < F; i++) f[i] = ((f[i] as number) - (mu[i] as number)) / (sigma[i] as number);
    return f;
  };

  // start: the cosine-only logistic fit
  const [wc, b0] = logistic1d(
    ref.map((f) => ((f[F - 1] as number) - (mu[F - 1] as number)) / (sigma[F - 1] as number)),
    ref.map((_, i) => (i < genuine.length ? 1 : 0)),
  );
  const w0 = new Float32Array(F);
  w0[F - 1] = wc;
  const w = tf.tidy(() => tf.variable(tf.tensor2d(w0, [F, 1]), true));
  const b = tf.tidy(() => tf.variable(tf.tensor1d([b0]), true));
  const w0t = tf.tensor2d(w0, [F, 1]);
  const adam = new Adam(tf, recipe.lr);
  const fit: VerifierFit = { tf, w, b, w0t, adam, recipe };
  const history: VerifierEpoch[] = [];
  try {
    for (let epoch = 1; epoch <= recipe.epochs; epoch++) {
      const t0 = performance.now();
      const pairs = rng.shuffle([
        ...genuine.map((p) => ({ p, y: 1 })),
        ...sample(Math.round(genuine.length * recipe.impostorRatio)).map((p) => ({ p, y: 0 })),
      ]);
      let loss = 0;
      for (let s = 0; s < pairs.length; s += recipe.batchSize) {
        const batch = pairs.slice(s, s + recipe.batchSize);
        const X = new Float32Array(batch.length * F);
        batch.forEach((q, i) => {
          X.set(std(feat(q.p)), i * F);
        });
        loss += await verifierStep(
          fit,
          X,
          batch.map((q) => q.y),
          F,
        );
      }
      const e = { epoch, epochs: recipe.epochs, loss: loss / pairs.length, ms: performance.now() - t0 };
      history.push(e);
      opts.progress?.(e);
    }
    const params = {
      w: (await w.data()) as Float32Array,
      b: (await b.data()) as Float32Array,
      mu,
      sigma,
    };
    const v: Verifier = {
      manifest: {
        featureDim: F,
        threshold: { probability: 0.5, logit: 0, far: 0, tar: 0, measuredOn: 'training pairs' },
      },
      params,
    };
    v.manifest.threshold = calibrate(v, train, genuine, impostor);
    return { verifier: v, history, recipe };
  } finally {
    adam.dispose();
    tf.dispose([w, b, w0t]);
  }
}

/** Saves a verifier under models/heads/NAME (or the given folder). */
export function saveVerifier(
  dirOrName: string,
  manifest: Omit<VerifierManifest, 'tensors' | 'file' | 'sha256' | 'name' | 'format' | 'features'>,
  params: Record<string, Float32Array>,
): Verifier {
  const dir = learnedDir(dirOrName);
  const F = manifest.featureDim;
  const m = writeLearned<VerifierManifest>(
    dir,
    { ...manifest, format: 'vigil-verifier', name: basename(dir), features: 'absdiff+sqdiff+cos' },
    params,
    { w: [F], b: [1], mu: [F], sigma: [F] },
  );
  return { manifest: m, params };
}

/** A trained verifier by name (models/heads/NAME) or folder path. */
export function loadVerifier(nameOrPath: string): Verifier & { manifest: VerifierManifest } {
  const { manifest, params } = readLearned<VerifierManifest>(nameOrPath, 'vigil-verifier');
  for (const k of ['w', 'b', 'mu', 'sigma'])
    if (!params[k]) throw new Error(`learn: verifier ${manifest.name} lacks ${k}`);
  return { manifest, params };
}
