/**
 * Gradients on wasm (with src/style/kernels registered) against tfjs-backend-cpu's, per op and
 * attribute variant, on random inputs and a random upstream gradient (loss = sum(f(x) * r), so dy is
 * not all ones). Error: max|wasm - cpu| / max(max|cpu|, 1e-6) over each input's gradient.
 * WASM_GRAD_ERRORS=1 prints the worst error per case at the end of each file.
 * Used by test/unit/wasm-grad-*.test.ts; each calls useWasmGradients() at its top level.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import type { Tensor } from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, expect } from 'vitest';
import { registerStyleGradients } from '../../src/style/kernels/gradients/index.js';
import { registerWasmGradKernels } from '../../src/style/kernels/wasm-grad.js';

/**
 * max|wasm - ref| / max|ref| <= 1e-5 for every gradient at the small test sizes (2x17x19x5). The
 * largest reductions there (filter gradients: sums over the 2*17*19 output pixels; Gram matrices over
 * 323 rows) add float32 terms in a different order on wasm (XNNPACK's blocked GEMM, SIMD sums) and cpu
 * (sequential loops); the worst measured is ~1.4e-6.
 */
export const TOL = 1e-5;
/**
 * The two large-input cases reduce over 8192 and 32768 pixels: rounding grows like sqrt(terms) (~3e-6
 * and ~5e-6 measured), too close to 1e-5 for a seed-independent bound, so 1e-4 there.
 */
export const TOL_BIG = 1e-4;

export type Case = {
  name: string;
  shapes: number[][];
  f: (...xs: Tensor[]) => Tensor;
  /** names of the inputs, for the error summary (default x, b) */
  labels?: string[];
  /** inputs (by index) made positive (rsqrt) */
  positive?: number[];
  /** inputs (by index) rounded to multiples of 0.5: equal values, ties in max windows */
  quantized?: number[];
  tol?: number;
  /**
   * 'cpu' (default): tfjs-backend-cpu's gradient. 'adjoint': for a linear op acting on each image
   * and channel alike (resize), the exact transpose of its cpu forward map, built from the op on
   * one-hot images; used where the cpu backward kernel is itself wrong.
   */
  reference?: 'cpu' | 'adjoint';
};

export function rand(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((t ^ (t >>> 14)) >>> 0) / 2 ** 31 - 1;
  }
  return out;
}

export const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** Gradients of sum(f(xs) * r) w.r.t. every input, computed on `backend`. */
async function gradsOn(backend: 'wasm' | 'cpu', c: Case, seed: number): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const xs = c.shapes.map((s, i) => {
    const d = rand(size(s), seed + i);
    if (c.positive?.includes(i)) for (let j = 0; j < d.length; j++) d[j] = Math.abs(d[j] as number) + 0.1;
    if (c.quantized?.includes(i))
      for (let j = 0; j < d.length; j++) d[j] = Math.round((d[j] as number) * 2) / 2;
    return tf.tensor(d, s);
  });
  const yShape = tf.tidy(() => c.f(...xs).shape);
  const r = tf.tensor(rand(size(yShape), seed + 99), yShape);
  const before = tf.memory().numTensors;
  const gs = tf.grads((...ins: Tensor[]) => tf.sum(tf.mul(c.f(...ins), r)))(xs);
  expect(tf.memory().numTensors).toBe(before + gs.length);
  const out = gs.map((g) => g.dataSync() as Float32Array);
  tf.dispose([...gs, ...xs, r]);
  return out;
}

export function relErr(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let diff = 0;
  let ref = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs((a[i] as number) - (b[i] as number)));
    ref = Math.max(ref, Math.abs(b[i] as number));
  }
  return diff / Math.max(ref, 1e-6);
}

/** The gradient of sum(f(x) * r) for a linear, per-image, per-channel f, from f's cpu forward. */
async function adjointGrad(c: Case, seed: number): Promise<Float32Array[]> {
  await tf.setBackend('cpu');
  const [n, h, w, ch] = c.shapes[0] as [number, number, number, number];
  const p = h * w;
  const basis = tf.tidy(() => tf.reshape(tf.oneHot(tf.range(0, p, 1, 'int32'), p), [p, h, w, 1]));
  const fe = tf.tidy(() => c.f(basis));
  const [, oh, ow] = fe.shape as number[];
  const o = (oh as number) * (ow as number);
  const e = fe.dataSync();
  tf.dispose([basis, fe]);
  const r = rand(n * o * ch, seed + 99);
  const g = new Float32Array(n * p * ch);
  for (let b = 0; b < n; b++)
    for (let q = 0; q < p; q++)
      for (let k = 0; k < o; k++) {
        const v = e[q * o + k] as number;
        if (v === 0) continue;
        for (let d = 0; d < ch; d++) {
          const i = (b * p + q) * ch + d;
          g[i] = (g[i] as number) + v * (r[(b * o + k) * ch + d] as number);
        }
      }
  return [g];
}

/** The worst error per case and input, for WASM_GRAD_ERRORS. */
const worst = new Map<string, number>();
/** Checks the wasm gradients of `c` against the reference (cpu, or the adjoint of the cpu forward). */
export async function check(c: Case, seed = 1): Promise<void> {
  const cpu = c.reference === 'adjoint' ? await adjointGrad(c, seed) : await gradsOn('cpu', c, seed);
  const wasm = await gradsOn('wasm', c, seed);
  const errs = wasm.map((g, i) => relErr(g, cpu[i] as Float32Array));
  errs.forEach((e, i) => {
    const key = `${c.name}  d/d${c.labels?.[i] ?? ['x', 'b'][i]}`;
    worst.set(key, Math.max(worst.get(key) ?? 0, e));
  });
  const e = Math.max(...errs);
  expect(
    e,
    `${c.name}: per-input errors ${errs.map((x) => x.toExponential(2)).join(', ')}`,
  ).toBeLessThanOrEqual(c.tol ?? TOL);
}

/** Registers the style gradients and wasm's missing kernels for this file's tests, leak check on. */
export function useWasmGradients(): void {
  beforeAll(async () => {
    await tf.setBackend('cpu');
    await tf.setBackend('wasm');
    await tf.ready();
    registerStyleGradients(tf);
    registerWasmGradKernels(tf);
    // the engine checks each kernel for leaked buffers (numDataIds before/after) under IS_TEST
    tf.env().set('IS_TEST', true);
  });

  afterAll(async () => {
    await tf.setBackend('wasm');
    if (process.env.WASM_GRAD_ERRORS)
      console.log([...worst].map(([k, v]) => `${k.padEnd(64)} ${v.toExponential(2)}`).join('\n'));
  });
}

/** The small test input (NHWC) and the padding variants the conv cases run through. */
export const X = [2, 17, 19, 5];
export const explicitPad: [[0, 0], [number, number], [number, number], [0, 0]] = [
  [0, 0],
  [1, 2],
  [2, 1],
  [0, 0],
];
export type ConvPad = 'same' | 'valid' | number | typeof explicitPad;
export const pads: Array<[string, ConvPad]> = [
  ['same', 'same'],
  ['valid', 'valid'],
  ['explicit', explicitPad],
  ['numeric 1', 1],
];

/** Shapes that take the crop paths: taps not reaching the input's last row/column; pads > filter - 1. */
export const edges: Array<[string, number, number, ConvPad]> = [
  ['k2 s2 valid (input cropped to the taps)', 2, 2, 'valid'],
  [
    'k3 s1 explicit pads larger than the filter (dy cropped)',
    3,
    1,
    [
      [0, 0],
      [3, 1],
      [0, 4],
      [0, 0],
    ],
  ],
];
