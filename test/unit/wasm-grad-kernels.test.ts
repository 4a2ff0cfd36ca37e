import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import type { Tensor, Tensor4D, Variable } from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerStyleGradients, styleGradientKernelNames } from '../../src/style/kernels/gradients.js';
import {
  isWasmGradKernel,
  registerWasmGradKernels,
  WASM_GRAD_FIXES,
  WASM_GRAD_KERNELS,
} from '../../src/style/kernels/wasm-grad.js';

// Gradients on wasm (with src/style/kernels registered) against tfjs-backend-cpu's, per op and
// attribute variant, on random inputs and a random upstream gradient (loss = sum(f(x) * r), so dy is
// not all ones). Error: max|wasm - cpu| / max(max|cpu|, 1e-6) over each input's gradient.
// WASM_GRAD_ERRORS=1 prints the worst error per case at the end.

/**
 * max|wasm - ref| / max|ref| <= 1e-5 for every gradient at the small test sizes (2x17x19x5). The
 * largest reductions there (filter gradients: sums over the 2*17*19 output pixels; Gram matrices over
 * 323 rows) add float32 terms in a different order on wasm (XNNPACK's blocked GEMM, SIMD sums) and cpu
 * (sequential loops); the worst measured is ~1.4e-6.
 */
const TOL = 1e-5;
/**
 * The two large-input cases reduce over 8192 and 32768 pixels: rounding grows like sqrt(terms) (~3e-6
 * and ~5e-6 measured), too close to 1e-5 for a seed-independent bound, so 1e-4 there.
 */
const TOL_BIG = 1e-4;

type Case = {
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

function rand(n: number, seed: number): Float32Array {
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

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

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

function relErr(a: Float32Array, b: Float32Array): number {
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

const worst = new Map<string, number>();
async function check(c: Case, seed = 1): Promise<void> {
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

const X = [2, 17, 19, 5];
const explicitPad: [[0, 0], [number, number], [number, number], [0, 0]] = [
  [0, 0],
  [1, 2],
  [2, 1],
  [0, 0],
];
type ConvPad = 'same' | 'valid' | number | typeof explicitPad;
const pads: Array<[string, ConvPad]> = [
  ['same', 'same'],
  ['valid', 'valid'],
  ['explicit', explicitPad],
  ['numeric 1', 1],
];

/** Shapes that take the crop paths: taps not reaching the input's last row/column; pads > filter - 1. */
const edges: Array<[string, number, number, ConvPad]> = [
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

describe('registration', () => {
  it("the engine's per-kernel leak check is on (a kernel leaking a wasm buffer throws)", () => {
    const made: tf.TensorInfo[] = [];
    tf.registerKernel({
      kernelName: 'VigilLeakProbe',
      backendName: 'wasm',
      kernelFunc: ({ inputs, backend }) => {
        const neg = tf.getKernel('Neg', 'wasm').kernelFunc;
        made.push(neg({ inputs, backend }) as tf.TensorInfo); // leaked on purpose
        made.push(neg({ inputs, backend }) as tf.TensorInfo);
        return made[1] as tf.TensorInfo;
      },
    });
    const x = tf.ones([3]);
    expect(() => tf.engine().runKernel('VigilLeakProbe', { x }, {})).toThrow(/memory leak/);
    tf.unregisterKernel('VigilLeakProbe', 'wasm');
    for (const t of made) tf.engine().backend.disposeData(t.dataId);
    x.dispose();
  });

  it('registers exactly the missing wasm kernels, once (idempotent)', () => {
    for (const name of Object.keys(WASM_GRAD_KERNELS)) {
      expect(tf.getKernel(name, 'wasm')).toBeDefined();
      expect(isWasmGradKernel(tf, name)).toBe(true);
    }
    // wasm's wrong kernels are fixed, its right ones kept
    for (const name of Object.keys(WASM_GRAD_FIXES)) expect(isWasmGradKernel(tf, name)).toBe(true);
    for (const name of ['Conv2DBackpropInput', 'AvgPoolGrad', 'EluGrad'])
      expect(isWasmGradKernel(tf, name)).toBe(false);
    expect(registerWasmGradKernels(tf)).toEqual([]);
    expect(registerStyleGradients(tf)).toEqual([]);
    for (const name of styleGradientKernelNames(tf)) expect(tf.getGradient(name)).toBeDefined();
  });
});

describe('conv2d gradients (x: wasm Conv2DBackpropInput, filter: Conv2DBackpropFilter)', () => {
  for (const k of [1, 3, 9])
    for (const s of [1, 2])
      for (const [pn, pad] of pads)
        it(`k${k} s${s} ${pn}`, async () => {
          await check({
            name: `conv2d k${k} s${s} ${pn}`,
            shapes: [X, [k, k, 5, 4]],
            labels: ['x', 'filter'],
            f: (x, w) => tf.conv2d(x as Tensor4D, w as Tensor4D, s, pad),
          });
        });
  for (const [label, k, st, pad] of edges)
    it(label, async () => {
      await check({
        name: `conv2d ${label}`,
        shapes: [X, [k, k, 5, 4]],
        labels: ['x', 'filter'],
        f: (x, w) => tf.conv2d(x as Tensor4D, w as Tensor4D, st, pad),
      });
    });
  it('3-D input (no batch), k3 s2 same', async () => {
    await check({
      name: 'conv2d 3-D k3 s2',
      shapes: [
        [17, 19, 5],
        [3, 3, 5, 4],
      ],
      labels: ['x', 'filter'],
      f: (x, w) => tf.conv2d(x as tf.Tensor3D, w as Tensor4D, 2, 'same'),
    });
  });
  it('k9 s1 same on 2x64x64x8: filter-gradient taps span two 16 MiB blocks', async () => {
    await check({
      name: 'conv2d k9 s1 same, 2x64x64x8 (2 tap blocks)',
      tol: TOL_BIG,
      shapes: [
        [2, 64, 64, 8],
        [9, 9, 8, 4],
      ],
      labels: ['x', 'filter'],
      f: (x, w) => tf.conv2d(x as Tensor4D, w as Tensor4D, 1, 'same'),
    });
  });
  it('conv2dTranspose k3 s2 same (Conv2D + Conv2DBackpropFilter)', async () => {
    await check({
      name: 'conv2dTranspose k3 s2',
      shapes: [
        [2, 9, 10, 4],
        [3, 3, 5, 4],
      ],
      labels: ['x', 'filter'],
      f: (x, w) => tf.conv2dTranspose(x as Tensor4D, w as Tensor4D, [2, 17, 19, 5], 2, 'same'),
    });
  });
});

describe('depthwiseConv2d gradients (DepthwiseConv2dNativeBackpropInput/Filter)', () => {
  for (const mult of [1, 2])
    for (const s of [1, 2])
      for (const [pn, pad] of pads.slice(0, 2))
        it(`k3 s${s} ${pn} multiplier ${mult}`, async () => {
          await check({
            name: `depthwiseConv2d k3 s${s} ${pn} m${mult}`,
            shapes: [X, [3, 3, 5, mult]],
            labels: ['x', 'filter'],
            f: (x, w) => tf.depthwiseConv2d(x as Tensor4D, w as Tensor4D, s, pad as 'same'),
          });
        });
  it('k3 s1 same on 2x128x128x16: filter-gradient taps span two 16 MiB blocks', async () => {
    await check({
      name: 'depthwiseConv2d k3 s1 same, 2x128x128x16 (2 tap blocks)',
      tol: TOL_BIG,
      shapes: [
        [2, 128, 128, 16],
        [3, 3, 16, 1],
      ],
      labels: ['x', 'filter'],
      f: (x, w) => tf.depthwiseConv2d(x as Tensor4D, w as Tensor4D, 1, 'same'),
    });
  });
  for (const [label, k, st, pad] of edges)
    it(label, async () => {
      await check({
        name: `depthwiseConv2d ${label}`,
        shapes: [X, [k, k, 5, 1]],
        labels: ['x', 'filter'],
        f: (x, w) => tf.depthwiseConv2d(x as Tensor4D, w as Tensor4D, st, pad as 'same'),
      });
    });
  it('k5 s2 explicit padding', async () => {
    await check({
      name: 'depthwiseConv2d k5 s2 explicit',
      shapes: [X, [5, 5, 5, 1]],
      labels: ['x', 'filter'],
      f: (x, w) => tf.depthwiseConv2d(x as Tensor4D, w as Tensor4D, 2, explicitPad),
    });
  });
});

describe('resize, pad and pool gradients', () => {
  // tfjs-backend-cpu's ResizeBilinearGrad returns a [n, w, h, c] shape and its ResizeNearestNeighborGrad
  // mixes rows and columns when h != w, and both (like wasm's) ignore halfPixelCenters: the
  // reference is the adjoint of the cpu forward, whose equality with wasm's forward is checked first.
  const resizes: Array<[string, number, number, boolean, boolean]> = [
    ['x2', 34, 38, false, false],
    ['x2', 34, 38, false, true],
    ['x2', 34, 38, true, false],
    ['17x19 -> 25x28', 25, 28, false, false],
    ['17x19 -> 25x28', 25, 28, false, true],
    ['17x19 -> 25x28', 25, 28, true, false],
    ['17x19 -> 8x9', 8, 9, false, true],
  ];
  for (const [label, oh, ow, ac, hpc] of resizes)
    for (const [op, fn] of [
      ['resizeNearestNeighbor', tf.image.resizeNearestNeighbor],
      ['resizeBilinear', tf.image.resizeBilinear],
    ] as const)
      it(`${op} ${label} alignCorners=${ac} halfPixelCenters=${hpc}`, async () => {
        const f = (x: Tensor) => fn(x as Tensor4D, [oh, ow], ac, hpc);
        const x = rand(size(X), 5);
        const fwd = async (b: 'cpu' | 'wasm') => {
          await tf.setBackend(b);
          const t = tf.tensor(x, X);
          const y = f(t);
          const v = y.dataSync() as Float32Array;
          tf.dispose([t, y]);
          return v;
        };
        expect(relErr(await fwd('wasm'), await fwd('cpu'))).toBeLessThanOrEqual(TOL);
        await check({
          name: `${op} ${label} ac=${ac} hpc=${hpc}`,
          shapes: [X],
          f,
          reference: 'adjoint',
        });
      });
  it('mirrorPad reflect', async () => {
    const p: Array<[number, number]> = [
      [0, 0],
      [4, 4],
      [3, 2],
      [0, 0],
    ];
    await check({ name: 'mirrorPad reflect', shapes: [X], f: (x) => tf.mirrorPad(x, p, 'reflect') });
  });
  for (const [k, s, pad] of [
    [2, 2, 'valid'],
    [3, 2, 'same'],
  ] as const) {
    it(`avgPool ${k}x${k} s${s} ${pad}`, async () => {
      await check({
        name: `avgPool ${k}x${k} s${s} ${pad}`,
        shapes: [X],
        f: (x) => tf.avgPool(x as Tensor4D, k, s, pad),
      });
    });
    it(`maxPool ${k}x${k} s${s} ${pad}`, async () => {
      await check({
        name: `maxPool ${k}x${k} s${s} ${pad}`,
        shapes: [X],
        f: (x) => tf.maxPool(x as Tensor4D, k, s, pad),
      });
    });
    it(`maxPool ${k}x${k} s${s} ${pad}, ties (first maximum wins)`, async () => {
      await check({
        name: `maxPool ${k}x${k} s${s} ${pad} ties`,
        shapes: [X],
        f: (x) => tf.maxPool(x as Tensor4D, k, s, pad),
        quantized: [0],
      });
    });
  }
});

describe('elementwise, reduction and matMul gradients', () => {
  const unary: Array<[string, (x: Tensor) => Tensor, number[]?]> = [
    ['relu', (x) => tf.relu(x)],
    ['sigmoid', (x) => tf.sigmoid(x)],
    ['tanh', (x) => tf.tanh(x)],
    ['elu', (x) => tf.elu(x)],
    ['leakyRelu', (x) => tf.leakyRelu(x, 0.2)],
    ['clipByValue', (x) => tf.clipByValue(x, -0.5, 0.5)],
    ['rsqrt', (x) => tf.rsqrt(x), [0]],
    ['mean over H,W (keepDims)', (x) => tf.mean(x, [1, 2], true)],
    ['mean (all)', (x) => tf.mean(x)],
    [
      'moments (instance norm)',
      (x) => {
        const { mean, variance } = tf.moments(x, [1, 2], true);
        return tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5)));
      },
    ],
  ];
  for (const [name, f, positive] of unary)
    it(name, async () => {
      await check({ name, shapes: [X], f, positive });
    });
  const binary: Array<[string, (a: Tensor, b: Tensor) => Tensor, number[]]> = [
    ['add', (a, b) => tf.add(a, b), X],
    ['sub', (a, b) => tf.sub(a, b), X],
    ['mul', (a, b) => tf.mul(a, b), X],
    ['squaredDifference', (a, b) => tf.squaredDifference(a, b), X],
    ['add broadcast [1,1,1,C]', (a, b) => tf.add(a, b), [1, 1, 1, 5]],
    ['sub broadcast [N,1,1,C]', (a, b) => tf.sub(a, b), [2, 1, 1, 5]],
    ['mul broadcast [C]', (a, b) => tf.mul(a, b), [5]],
  ];
  for (const [name, f, bShape] of binary)
    it(name, async () => {
      await check({ name, shapes: [X, bShape], f });
    });
  it('matMul', async () => {
    await check({
      name: 'matMul',
      shapes: [
        [23, 31],
        [31, 17],
      ],
      f: (a, b) => tf.matMul(a, b),
    });
  });
  it('matMul(a, b, true, false) (Gram matrix)', async () => {
    await check({
      name: 'matMul T,F (Gram)',
      shapes: [[323, 16]],
      f: (a) => tf.div(tf.matMul(a, a, true, false), 323),
    });
  });
  it('batched Gram matrices [N, HW, C]', async () => {
    await check({
      name: 'batched Gram',
      shapes: [[2, 323, 16]],
      f: (a) => tf.matMul(a, a, true, false),
    });
  });
  for (const [ta, tb] of [
    [false, true],
    [true, true],
  ] as const)
    it(`matMul(a, b, ${ta}, ${tb})`, async () => {
      await check({
        name: `matMul ${ta ? 'T' : 'F'},${tb ? 'T' : 'F'}`,
        shapes: [ta ? [31, 23] : [23, 31], tb ? [17, 31] : [31, 17]],
        f: (a, b) => tf.matMul(a, b, ta, tb),
      });
    });
});

describe('training on wasm', () => {
  it('Adam on a small conv net (9x9 -> 3x3 s2 -> depthwise 3x3 -> resize x2 -> 3x3) lowers the loss, leaks nothing', async () => {
    await tf.setBackend('wasm');
    const backend = tf.engine().backend;
    const init = (shape: number[], seed: number, scale: number) =>
      tf.variable(tf.mul(tf.tensor(rand(size(shape), seed), shape), scale) as Tensor);
    const w: Variable[] = [
      init([9, 9, 3, 8], 11, 0.05),
      init([3, 3, 8, 8], 12, 0.15),
      init([3, 3, 8, 1], 13, 0.3),
      init([3, 3, 8, 3], 14, 0.15),
    ];
    const x = tf.tensor(rand(2 * 24 * 24 * 3, 21), [2, 24, 24, 3]) as Tensor4D;
    const target = tf.tensor(rand(2 * 24 * 24 * 3, 22), [2, 24, 24, 3]);
    const [w1, w2, w3, w4] = w as [Variable, Variable, Variable, Variable];
    const net = (): tf.Scalar =>
      tf.tidy(() => {
        let h = tf.relu(tf.conv2d(x, w1 as Tensor4D, 1, 'same'));
        h = tf.relu(tf.conv2d(h, w2 as Tensor4D, 2, 'same'));
        h = tf.relu(tf.depthwiseConv2d(h, w3 as Tensor4D, 1, 'same'));
        h = tf.image.resizeNearestNeighbor(h, [24, 24]);
        const y = tf.conv2d(h, w4 as Tensor4D, 1, 'same');
        return tf.mean(tf.squaredDifference(y, target));
      });
    const opt = tf.train.adam(0.03);
    const losses: number[] = [];
    let tensors = 0;
    let dataIds = 0;
    for (let step = 0; step < 8; step++) {
      const loss = opt.minimize(net, true, w) as tf.Scalar;
      losses.push(loss.dataSync()[0] as number);
      loss.dispose();
      if (step === 0) {
        // Adam's moment slots exist from the first step on
        tensors = tf.memory().numTensors;
        dataIds = backend.numDataIds();
      } else {
        expect(tf.memory().numTensors).toBe(tensors);
        expect(backend.numDataIds()).toBe(dataIds);
      }
    }
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses.at(-1) as number, losses.join(', ')).toBeLessThan((losses[0] as number) * 0.9);
    opt.dispose();
    tf.dispose([...w, x, target]);
  });
});

describe("opt-in replacement of wasm's Conv2DBackpropInput (runs last: replaces it for the process)", () => {
  it('registers over the slow kernel once', () => {
    expect(registerWasmGradKernels(tf, { replace: ['Conv2DBackpropInput'] })).toEqual([
      'Conv2DBackpropInput',
    ]);
    expect(isWasmGradKernel(tf, 'Conv2DBackpropInput')).toBe(true);
    expect(registerWasmGradKernels(tf, { replace: ['Conv2DBackpropInput'] })).toEqual([]);
  });
  for (const k of [1, 3, 9])
    for (const s of [1, 2])
      for (const [pn, pad] of pads)
        it(`conv2d k${k} s${s} ${pn}`, async () => {
          await check({
            name: `conv2d k${k} s${s} ${pn} (replaced input kernel)`,
            shapes: [X, [k, k, 5, 4]],
            labels: ['x', 'filter'],
            f: (x, w) => tf.conv2d(x as Tensor4D, w as Tensor4D, s, pad),
          });
        });
  for (const [label, k, st, pad] of edges)
    it(`conv2d ${label}`, async () => {
      await check({
        name: `conv2d ${label} (replaced input kernel)`,
        shapes: [X, [k, k, 5, 4]],
        labels: ['x', 'filter'],
        f: (x, w) => tf.conv2d(x as Tensor4D, w as Tensor4D, st, pad),
      });
    });
  it('conv2dTranspose k3 s2 same', async () => {
    await check({
      name: 'conv2dTranspose k3 s2 (replaced input kernel)',
      shapes: [
        [2, 9, 10, 4],
        [3, 3, 5, 4],
      ],
      labels: ['x', 'filter'],
      f: (x, w) => tf.conv2dTranspose(x as Tensor4D, w as Tensor4D, [2, 17, 19, 5], 2, 'same'),
    });
  });
});
