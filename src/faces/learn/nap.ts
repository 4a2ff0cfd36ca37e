/**
 * Nuisance attribute projection (NAP, from speaker verification): the directions in which images of
 * the *same* person vary most (lighting, grey vs colour, pose, blur) are estimated from labelled
 * folders and projected out, W = I - U^T U. Few parameters (k directions), fitted in closed form, so
 * it generalises from a handful of identities where a full triplet-trained matrix over-fits. Used as
 * the starting point (and the weight pull's anchor) of the linear triplet head (`--init nap`).
 */
import type { Labeled } from '../metrics.js';
import { Rng } from '../../util/rng.js';

/**
 * The top-`k` eigenvectors (rows of a k x D matrix, orthonormal) of the within-identity scatter
 * sum_i (x_i - mean_id(i))(x_i - mean_id(i))^T, by block power iteration on the centred rows (never
 * forming the D x D matrix). Identities with a single image contribute nothing.
 */
export function nuisanceDirections(
  items: Labeled[],
  k: number,
  opts: { iterations?: number; seed?: number } = {},
): { directions: Float32Array; dim: number; k: number; variance: number[]; totalVariance: number } {
  const dim = items[0]?.embedding.length ?? 0;
  if (!dim) throw new Error('nap: no embeddings');
  if (!Number.isInteger(k) || k < 1 || k >= dim)
    throw new Error(`nap: the number of directions must be an integer in 1..${dim - 1} (got ${k})`);
  const byId = new Map<string, Float32Array[]>();
  for (const it of items) {
    if (it.embedding.length !== dim)
      throw new Error(`nap: embeddings of different lengths (${it.embedding.length} vs ${dim})`);
    const a = byId.get(it.identity) ?? [];
    a.push(it.embedding);
    byId.set(it.identity, a);
  }
  const rows: Float32Array[] = [];
  for (const vs of byId.values()) {
    if (vs.length < 2) continue;
    const mean = new Float64Array(dim);
    for (const v of vs) for (let j = 0; j < dim; j++) mean[j] = (mean[j] as number) + (v[j] as number);
    for (let j = 0; j < dim; j++) mean[j] = (mean[j] as number) / vs.length;
    for (const v of vs) rows.push(Float32Array.from(v, (x, j) => x - (mean[j] as number)));
  }
  if (rows.length <= k)
    throw new Error(
      `nap: ${rows.length} images of identities with two or more images; ${k} directions need more (at least ${k + 1})`,
    );
  const totalVariance = rows.reduce((s, r) => s + r.reduce((t, x) => t + x * x, 0), 0) / rows.length;
  // block power iteration: Q <- orth(S Q), S Q = Z^T (Z Q) / n
  const rng = new Rng(opts.seed ?? 1);
  let Q = Array.from({ length: k }, () => Float64Array.from({ length: dim }, () => rng.normal()));
  orthonormalize(Q);
  const iterations = opts.iterations ?? 100;
  let variance: number[] = [];
  for (let it = 0; it < iterations; it++) {
    const next = Q.map(() => new Float64Array(dim));
    for (const z of rows)
      Q.forEach((q, c) => {
        let p = 0;
        for (let j = 0; j < dim; j++) p += (z[j] as number) * (q[j] as number);
        const o = next[c] as Float64Array;
        for (let j = 0; j < dim; j++) o[j] = (o[j] as number) + (p * (z[j] as number)) / rows.length;
      });
    variance = next.map((v, c) => dot(v, Q[c] as Float64Array)); // Rayleigh quotients
    orthonormalize(next);
    const moved = next.reduce((m, v, c) => Math.max(m, 1 - Math.abs(dot(v, Q[c] as Float64Array))), 0);
    Q = next;
    if (moved < 1e-10) break;
  }
  const directions = new Float32Array(k * dim);
  Q.forEach((q, c) => {
    directions.set(Float32Array.from(q), c * dim);
  });
  return { directions, dim, k, variance, totalVariance };
}

/** W = I - U^T U (row-major D x D): x W removes the components along the k directions. */
export function projectionMatrix(directions: Float32Array, dim: number): Float32Array {
  const k = directions.length / dim;
  const W = new Float32Array(dim * dim);
  for (let i = 0; i < dim; i++) W[i * dim + i] = 1;
  for (let c = 0; c < k; c++) {
    const u = directions.subarray(c * dim, (c + 1) * dim);
    for (let i = 0; i < dim; i++) {
      const ui = u[i] as number;
      if (ui === 0) continue;
      for (let j = 0; j < dim; j++) W[i * dim + j] = (W[i * dim + j] as number) - ui * (u[j] as number);
    }
  }
  return W;
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += (a[j] as number) * (b[j] as number);
  return s;
}

/** Gram-Schmidt, in place (twice for stability). */
function orthonormalize(vs: Float64Array[]): void {
  for (let pass = 0; pass < 2; pass++)
    vs.forEach((v, i) => {
      for (let p = 0; p < i; p++) {
        const u = vs[p] as Float64Array;
        const d = dot(v, u);
        for (let j = 0; j < v.length; j++) v[j] = (v[j] as number) - d * (u[j] as number);
      }
      const n = Math.sqrt(dot(v, v)) || 1;
      for (let j = 0; j < v.length; j++) v[j] = (v[j] as number) / n;
    });
}
