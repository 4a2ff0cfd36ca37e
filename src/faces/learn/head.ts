import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, isAbsolute, join, resolve } from 'node:path';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import { PROJECT_ROOT } from '../../util/paths.js';
import { normalize, Rng } from '../../util/rng.js';
import type { Tf } from './tf.js';

/** Where trained heads and verifiers live: models/heads/NAME/{manifest.json, weights.bin}. */
export const HEADS_DIR = join(PROJECT_ROOT, 'models', 'heads');

/** A named weight tensor inside weights.bin (float32, little-endian, row-major). */
export interface TensorEntry {
  name: string;
  shape: number[];
  /** Offset in float32 values. */
  offset: number;
}

/** What every learned artefact records: the embedding it sits on, the data and how it did. */
export interface LearnedBase {
  /** Embedding model and space (gallery version string, e.g. box-1.3) the input vectors come from. */
  base: { model: string; space: string; dim: number };
  data: {
    dirs: string[];
    trainIdentities: string[];
    valIdentities: string[];
    trainImages: number;
    valImages: number;
  };
  created: string;
  file: 'weights.bin';
  tensors: TensorEntry[];
  /** sha256 of weights.bin (first 16 hex digits): part of the head's embedding space name. */
  sha256: string;
}

export interface HeadRecipe {
  kind: 'linear' | 'mlp';
  /**
   * Starting point of a linear head (and the anchor of the weight pull): the identity map (the raw
   * embedding), or the nuisance attribute projection fitted on the training folders (nap.ts).
   * Older manifests have no `init`: identity.
   */
  init?: 'identity' | 'nap';
  /** Directions projected out by `init: nap`. */
  napDims?: number;
  outDim: number;
  hiddenDim: number;
  /** Triplet margin (squared-distance units on the unit sphere). */
  alpha: number;
  epochs: number;
  lr: number;
  /** L2 pull of the weights towards their initial values (identity map or NAP): keeps that geometry. */
  weightDecay: number;
  /** Most images per identity in one batch (FaceNet: P identities x K images). */
  perIdentity: number;
  batchSize: number;
  /** Gaussian noise (std, per component, before re-normalising) added to training inputs. */
  inputNoise: number;
  seed: number;
}

export interface HeadManifest extends LearnedBase {
  format: 'vigil-head';
  name: string;
  recipe: HeadRecipe;
  inDim: number;
  outDim: number;
  /** Validation figures on held-out identities (raw embedding vs head), filled by training. */
  validation?: Record<string, unknown>;
  /** Similarity threshold in the head's space at FAR 1% of the training pairs. */
  threshold?: { similarity: number; far: number; tar: number; measuredOn: string };
}

export interface Head {
  manifest: HeadManifest;
  params: Record<string, Float32Array>;
}

export const DEFAULT_HEAD_RECIPE: HeadRecipe = {
  kind: 'linear',
  init: 'identity',
  napDims: 2,
  outDim: 0, // 0: same as the input
  hiddenDim: 256,
  alpha: 0.2,
  epochs: 60,
  lr: 1e-3,
  weightDecay: 1e-2,
  perIdentity: 8,
  batchSize: 96,
  inputNoise: 0,
  seed: 1,
};

/**
 * Initial weights. linear: y = norm(x W + b) with W = I (or a random Gaussian projection when the
 * output is smaller), so an untrained head is the raw embedding. mlp: y = norm(x + relu(x W1 + b1) W2
 * + b2) (a residual 2-layer block, with W2 small) when in = out, else y = norm(relu(x W1 + b1) W2 + b2).
 */
export function initParams(recipe: HeadRecipe, inDim: number): Record<string, Float32Array> {
  const rng = new Rng(recipe.seed);
  const out = recipe.outDim || inDim;
  const gauss = (rows: number, cols: number, std: number) => {
    const a = new Float32Array(rows * cols);
    for (let i = 0; i < a.length; i++) a[i] = rng.normal() * std;
    return a;
  };
  if (recipe.kind === 'linear') {
    const W = out === inDim ? new Float32Array(inDim * inDim) : gauss(inDim, out, 1 / Math.sqrt(out));
    if (out === inDim) for (let i = 0; i < inDim; i++) W[i * inDim + i] = 1;
    return { W, b: new Float32Array(out) };
  }
  const h = recipe.hiddenDim;
  return {
    W1: gauss(inDim, h, Math.sqrt(2 / inDim)),
    b1: new Float32Array(h),
    W2: gauss(h, out, out === inDim ? 0.01 / Math.sqrt(h) : 1 / Math.sqrt(h)),
    b2: new Float32Array(out),
  };
}

export function paramShapes(recipe: HeadRecipe, inDim: number): Record<string, number[]> {
  const out = recipe.outDim || inDim;
  return recipe.kind === 'linear'
    ? { W: [inDim, out], b: [out] }
    : { W1: [inDim, recipe.hiddenDim], b1: [recipe.hiddenDim], W2: [recipe.hiddenDim, out], b2: [out] };
}

/** The head on a batch of embeddings [n, in] in tfjs (training): L2-normalised [n, out]. */
export function headForward(
  tf: Tf,
  kind: HeadRecipe['kind'],
  v: Record<string, Tensor | Variable>,
  x: Tensor,
): Tensor {
  return tf.tidy(() => {
    let y: Tensor;
    if (kind === 'linear') y = tf.add(tf.matMul(x, v.W as Tensor), v.b as Tensor);
    else {
      const hidden = tf.relu(tf.add(tf.matMul(x, v.W1 as Tensor), v.b1 as Tensor));
      y = tf.add(tf.matMul(hidden, v.W2 as Tensor), v.b2 as Tensor);
      if ((v.W2 as Tensor).shape[1] === x.shape[1]) y = tf.add(y, x);
    }
    return l2normalize(tf, y);
  });
}

/** Row-wise L2 normalisation with differentiable ops. */
export function l2normalize(tf: Tf, y: Tensor): Tensor {
  return tf.tidy(() => tf.div(y, tf.sqrt(tf.add(tf.sum(tf.square(y), 1, true), 1e-12))));
}

/** y = x M (+ b): x [in], M [in, out] row-major. */
function affine(x: Float32Array, M: Float32Array, b: Float32Array, out: number): Float32Array {
  const y = Float32Array.from(b);
  for (let i = 0; i < x.length; i++) {
    const xi = x[i] as number;
    if (xi === 0) continue;
    const row = i * out;
    for (let j = 0; j < out; j++) y[j] = (y[j] as number) + xi * (M[row + j] as number);
  }
  return y;
}

/**
 * The head on embeddings (plain arrays, no tfjs): each L2-normalised input gives an L2-normalised
 * output. About 1 ms per 1024-d vector: fine for re-embedding a gallery or matching a query.
 */
export function applyHead(head: Head, embeddings: Float32Array[]): Float32Array[] {
  const { manifest: m, params: p } = head;
  return embeddings.map((x) => {
    if (x.length !== m.inDim)
      throw new Error(`head ${m.name} takes ${m.inDim}-d embeddings, got ${x.length} values`);
    if (m.recipe.kind === 'linear')
      return normalize(affine(x, p.W as Float32Array, p.b as Float32Array, m.outDim));
    const hidden = affine(x, p.W1 as Float32Array, p.b1 as Float32Array, m.recipe.hiddenDim);
    for (let i = 0; i < hidden.length; i++) hidden[i] = Math.max(0, hidden[i] as number);
    const y = affine(hidden, p.W2 as Float32Array, p.b2 as Float32Array, m.outDim);
    if (m.outDim === m.inDim) for (let i = 0; i < y.length; i++) y[i] = (y[i] as number) + (x[i] as number);
    return normalize(y);
  });
}

/** The same on a row-major batch [n, in] (the inference worker's layout): [n, out]. */
export function applyHeadFlat(head: Head, flat: Float32Array, n: number): Float32Array {
  const { inDim, outDim } = head.manifest;
  const rows = Array.from({ length: n }, (_, i) => flat.subarray(i * inDim, (i + 1) * inDim));
  const out = new Float32Array(n * outDim);
  applyHead(head, rows).forEach((y, i) => {
    out.set(y, i * outDim);
  });
  return out;
}

/**
 * The gallery space version of vectors passed through this head: the base space plus the head's
 * name and weights digest, so vectors of different heads (or of no head) are never compared.
 */
export function headSpace(head: Pick<Head, 'manifest'>): string {
  return `${head.manifest.base.space}+${head.manifest.name}@${head.manifest.sha256.slice(0, 8)}`;
}

/** models/heads/NAME, or the path itself when it names a folder (absolute, or with a slash). */
export function learnedDir(nameOrPath: string): string {
  if (isAbsolute(nameOrPath) || nameOrPath.includes('/') || nameOrPath.startsWith('.'))
    return resolve(nameOrPath);
  return join(HEADS_DIR, nameOrPath);
}

/** Writes manifest.json + weights.bin into `dir`; fills tensors, file and sha256. */
export function writeLearned<M extends LearnedBase>(
  dir: string,
  manifest: Omit<M, 'tensors' | 'file' | 'sha256'>,
  params: Record<string, Float32Array>,
  shapes: Record<string, number[]>,
): M {
  mkdirSync(dir, { recursive: true });
  const names = Object.keys(shapes);
  const total = names.reduce((s, k) => s + (params[k] as Float32Array).length, 0);
  const all = new Float32Array(total);
  const tensors: TensorEntry[] = [];
  let off = 0;
  for (const k of names) {
    const p = params[k] as Float32Array;
    const shape = shapes[k] as number[];
    if (p.length !== shape.reduce((a, b) => a * b, 1))
      throw new Error(`learn: ${k} has ${p.length} values, shape ${shape.join('x')}`);
    all.set(p, off);
    tensors.push({ name: k, shape, offset: off });
    off += p.length;
  }
  const bin = Buffer.from(all.buffer, all.byteOffset, all.byteLength);
  const sha256 = createHash('sha256').update(bin).digest('hex').slice(0, 16);
  const full = { ...manifest, file: 'weights.bin', tensors, sha256 } as M;
  writeFileSync(join(dir, 'weights.bin'), bin);
  writeFileSync(join(dir, 'manifest.json'), `${JSON.stringify(full, null, 2)}\n`);
  return full;
}

/** Reads a learned artefact; checks the weights' digest and every tensor's extent. */
export function readLearned<M extends LearnedBase>(
  nameOrPath: string,
  format: string,
): { manifest: M; params: Record<string, Float32Array>; dir: string } {
  const dir = learnedDir(nameOrPath);
  const mf = join(dir, 'manifest.json');
  if (!existsSync(mf))
    throw new Error(
      `learn: no ${format} "${nameOrPath}" (looked for ${mf}); train one with vigil learn ${format === 'vigil-head' ? 'triplet' : 'verifier'}`,
    );
  const manifest = JSON.parse(readFileSync(mf, 'utf8')) as M & { format: string };
  if (manifest.format !== format) throw new Error(`learn: ${mf} is a ${manifest.format}, not a ${format}`);
  const bin = readFileSync(join(dir, manifest.file));
  const sha = createHash('sha256').update(bin).digest('hex').slice(0, 16);
  if (sha !== manifest.sha256)
    throw new Error(`learn: ${join(dir, manifest.file)} does not match its manifest (sha256 ${sha})`);
  const all = new Float32Array(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength));
  const params: Record<string, Float32Array> = {};
  for (const t of manifest.tensors) {
    const len = t.shape.reduce((a, b) => a * b, 1);
    if (t.offset + len > all.length) throw new Error(`learn: ${t.name} lies outside ${manifest.file}`);
    params[t.name] = all.slice(t.offset, t.offset + len);
  }
  return { manifest, params, dir };
}

/** Saves a head under models/heads/NAME (or the given folder). */
export function saveHead(
  dirOrName: string,
  manifest: Omit<HeadManifest, 'tensors' | 'file' | 'sha256' | 'name' | 'format'>,
  params: Record<string, Float32Array>,
): Head {
  const dir = learnedDir(dirOrName);
  const m = writeLearned<HeadManifest>(
    dir,
    { ...manifest, format: 'vigil-head', name: basename(dir) },
    params,
    paramShapes(manifest.recipe, manifest.inDim),
  );
  return { manifest: m, params };
}

/** A trained head by name (models/heads/NAME) or folder path. */
export function loadHead(nameOrPath: string): Head {
  const { manifest, params } = readLearned<HeadManifest>(nameOrPath, 'vigil-head');
  for (const [k, shape] of Object.entries(paramShapes(manifest.recipe, manifest.inDim)))
    if (!params[k] || params[k].length !== shape.reduce((a, b) => a * b, 1))
      throw new Error(`learn: head ${manifest.name} lacks ${k} [${shape.join(', ')}]`);
  return { manifest, params };
}

/**
 * Checks that a head fits the embedding in use (model, space, dimension): a head trained on another
 * model's vectors would silently produce nonsense.
 */
export function checkHeadBase(
  head: { manifest: { name: string; base: LearnedBase['base'] } },
  model: string,
  space: string,
  dim: number,
): void {
  const b = head.manifest.base;
  if (b.model !== model || b.space !== space || b.dim !== dim)
    throw new Error(
      `${head.manifest.name} was trained on ${b.model} (${b.space}, ${b.dim}-d), the embedding in use is ${model} (${space}, ${dim}-d)`,
    );
}
