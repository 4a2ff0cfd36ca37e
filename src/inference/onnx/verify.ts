/**
 * Equivalence of a converted model with its tfjs original, measured on the same real inputs:
 * embeddings by cosine similarity, image models (style nets) by the largest absolute difference on
 * the 0-255 scale; tasks add their own measures (detectors: src/faces/detect/compare.ts). A model
 * that misses its tolerance is not used.
 */
import type { z } from 'zod';
import type { EquivalenceSchema } from '../protocol.js';

/** The tolerances of issue #9. */
export const TOLERANCE = {
  /** Embeddings: every pair of vectors at least this similar. */
  cosine: 0.9999,
  /** Detectors: the same boxes, every coordinate within this many frame pixels. */
  boxPx: 1,
  /** Image outputs on the 0-255 scale: at most one 8-bit level apart. */
  maxAbs255: 1,
} as const;

export type Equivalence = z.infer<typeof EquivalenceSchema>;
export type Measure = Equivalence['measure'];

/** Cosine similarity of two vectors. */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  return ab / Math.max(Math.sqrt(aa) * Math.sqrt(bb), 1e-30);
}

/** Lowest cosine over `n` rows of `dim` values each. */
export function compareEmbeddings(a: Float32Array, b: Float32Array, n: number, inputs: string): Equivalence {
  if (a.length !== b.length) throw new Error(`embedding sizes differ: ${a.length} vs ${b.length}`);
  const dim = a.length / n;
  let worst = 1;
  for (let i = 0; i < n; i++)
    worst = Math.min(worst, cosine(a.subarray(i * dim, (i + 1) * dim), b.subarray(i * dim, (i + 1) * dim)));
  return {
    measure: 'cosine',
    value: worst,
    tolerance: TOLERANCE.cosine,
    ok: worst >= TOLERANCE.cosine,
    inputs,
  };
}

/** Largest absolute difference, scaled to 0-255 (`scale255`: 255 for outputs in [0, 1], 1 if already 0-255). */
export function compareImages(
  a: Float32Array,
  b: Float32Array,
  scale255: number,
  inputs: string,
): Equivalence {
  if (a.length !== b.length) throw new Error(`output sizes differ: ${a.length} vs ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)));
  const value = worst * scale255;
  return {
    measure: 'max_abs_255',
    value,
    tolerance: TOLERANCE.maxAbs255,
    ok: value <= TOLERANCE.maxAbs255,
    inputs,
  };
}

/** One line for logs and `vigil doctor`. */
export function describeEquivalence(e: Equivalence): string {
  const v = e.measure === 'cosine' ? e.value.toFixed(6) : e.value.toFixed(3);
  const cmp = e.measure === 'cosine' ? '>=' : '<=';
  return `${e.measure} ${v} (${cmp} ${e.tolerance} ${e.ok ? 'ok' : 'FAILED'}) on ${e.inputs}${e.detail ? `: ${e.detail}` : ''}`;
}
