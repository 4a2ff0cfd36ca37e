// Gradient kernels for style training, ms per call: wasm with src/style/kernels registered, wasm's own
// kernel where it has one (the slow or wrong ones ours replace), and tfjs-backend-cpu.
// npm run bench -- grad-kernels [--size 128] [--minMs 400] [--maxReps 20] [--skipCpu]
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import type { NamedAttrMap, Tensor, Tensor4D } from '@tensorflow/tfjs-core';
import { conv2DBackpropInput } from '../src/style/kernels/conv-backprop.js';
import { registerStyleGradients } from '../src/style/kernels/gradients/index.js';
import { registerWasmGradKernels, WASM_GRAD_FIXES } from '../src/style/kernels/wasm-grad.js';
import type { KernelArgs } from '../src/style/kernels/wasm-ops.js';
import { machine, printTable, progress, writeResult } from './_util.js';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '128' },
    minMs: { type: 'string', default: '400' },
    maxReps: { type: 'string', default: '20' },
    skipCpu: { type: 'boolean', default: false },
  },
});
const S = Number(values.size);
const minMs = Number(values.minMs);
const maxReps = Number(values.maxReps);

await tf.setBackend('cpu');
await tf.setBackend('wasm');
await tf.ready();
// wasm's own versions of the kernels ours replace, kept under other names to time them side by side
const ORIG = 'wasm-own:';
for (const name of [...Object.keys(WASM_GRAD_FIXES), 'Conv2DBackpropInput']) {
  const k = tf.getKernel(name, 'wasm');
  tf.registerKernel({ kernelName: ORIG + name, backendName: 'wasm', kernelFunc: k.kernelFunc });
}
registerStyleGradients(tf);
registerWasmGradKernels(tf);
// our Conv2DBackpropInput (opt-in: registerWasmGradKernels(tf, { replace: ['Conv2DBackpropInput'] }))
const OURS = 'vigil:';
tf.registerKernel({
  kernelName: `${OURS}Conv2DBackpropInput`,
  backendName: 'wasm',
  kernelFunc: (args) => conv2DBackpropInput(tf, args as unknown as KernelArgs),
});

let seed = 1;
const rnd = (shape: number[]): Float32Array => {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  let s = seed++ * 0x9e3779b9;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) | 0;
    out[i] = ((s >>> 8) / 2 ** 24) * 2 - 1;
  }
  return out;
};

/** Mean ms per call of `run` on `backend`: warm-up, then reps until minMs or maxReps. */
async function time(backend: 'wasm' | 'cpu', make: () => () => Tensor | Tensor[]): Promise<number> {
  await tf.setBackend(backend);
  tf.engine().startScope(); // frees the inputs `make` creates
  const run = make();
  const once = () => {
    const r = run();
    for (const t of Array.isArray(r) ? r : [r]) t.dataSync();
    tf.dispose(r);
  };
  // warm-up (JIT, XNNPACK operator set-up): up to 3 calls or 200 ms
  const w0 = performance.now();
  for (let i = 0; i < 3 && (i === 0 || performance.now() - w0 < 200); i++) once();
  let reps = 0;
  const t0 = performance.now();
  while (reps < maxReps && (reps === 0 || performance.now() - t0 < minMs)) {
    once();
    reps++;
  }
  const ms = (performance.now() - t0) / reps;
  tf.engine().endScope();
  return ms;
}

interface Row {
  kernel: string;
  variant: string;
  shape: string;
  /** kernel names: ours on wasm, wasm's own (if any), cpu's */
  ours: string;
  own?: string;
  inputs: Record<string, number[]>;
  attrs: object;
}

const shp = (s: number[]) => s.join('x');
const conv = (k: number, s: number, ci: number, co: number, h: number): Row[] => {
  const ho = Math.ceil(h / s);
  const x = [1, h, h, ci];
  const dy = [1, ho, ho, co];
  const f = [k, k, ci, co];
  const attrs = { strides: s, pad: 'same', dataFormat: 'NHWC' };
  const variant = `${k}x${k} s${s} same ${ci}->${co}`;
  return [
    {
      kernel: 'Conv2DBackpropFilter',
      variant,
      shape: `x ${shp(x)}`,
      ours: 'Conv2DBackpropFilter',
      inputs: { x, dy },
      attrs: { ...attrs, filterShape: f },
    },
    {
      kernel: 'Conv2DBackpropInput',
      variant,
      shape: `dy ${shp(dy)}`,
      ours: `${OURS}Conv2DBackpropInput`,
      own: `${ORIG}Conv2DBackpropInput`,
      inputs: { dy, filter: f },
      attrs: { ...attrs, inputShape: x },
    },
  ];
};
const depthwise = (s: number, c: number, h: number): Row[] => {
  const ho = Math.ceil(h / s);
  const x = [1, h, h, c];
  const dy = [1, ho, ho, c];
  const attrs = { strides: s, pad: 'same', dilations: 1 };
  const variant = `3x3 s${s} same c${c}`;
  return [
    {
      kernel: 'DepthwiseConv2dNativeBackpropFilter',
      variant,
      shape: `x ${shp(x)}`,
      ours: 'DepthwiseConv2dNativeBackpropFilter',
      inputs: { x, dy },
      attrs: { ...attrs, filterShape: [3, 3, c, 1] },
    },
    {
      kernel: 'DepthwiseConv2dNativeBackpropInput',
      variant,
      shape: `dy ${shp(dy)}`,
      ours: 'DepthwiseConv2dNativeBackpropInput',
      inputs: { dy, filter: [3, 3, c, 1] },
      attrs: { ...attrs, inputShape: x },
    },
  ];
};
const h2 = S / 2;
const rows: Row[] = [
  ...conv(9, 1, 3, 16, S),
  ...conv(3, 2, 16, 32, S),
  ...conv(3, 1, 32, 32, h2),
  ...conv(9, 1, 16, 3, S),
  ...depthwise(1, 32, h2),
  ...depthwise(2, 16, S),
  ...[2, 3].map(
    (k): Row => ({
      kernel: 'MaxPoolGrad',
      variant: `${k}x${k} s2 same`,
      shape: `x ${shp([1, S, S, 32])}`,
      ours: 'MaxPoolGrad',
      own: `${ORIG}MaxPoolGrad`,
      inputs: { input: [1, S, S, 32], dy: [1, S / 2, S / 2, 32], output: [1, S / 2, S / 2, 32] },
      attrs: { filterSize: k, strides: 2, pad: 'same' },
    }),
  ),
  ...(['ResizeBilinearGrad', 'ResizeNearestNeighborGrad'] as const).flatMap((k) =>
    [false, true].map(
      (hpc): Row => ({
        kernel: k,
        variant: `x2 halfPixelCenters=${hpc}`,
        shape: `dy ${shp([1, S, S, 32])}`,
        ours: k,
        own: `${ORIG}${k}`,
        inputs: { images: [1, h2, h2, 32], dy: [1, S, S, 32] },
        attrs: { alignCorners: false, halfPixelCenters: hpc, size: [S, S] },
      }),
    ),
  ),
];

const table: Array<Record<string, string | number>> = [];
const results: unknown[] = [];
const fmt = (ms: number | undefined) => (ms === undefined ? '-' : ms < 10 ? ms.toFixed(2) : ms.toFixed(1));
const total = rows.length + 2;
let done = 0;
for (const r of rows) {
  const make = (name: string) => () => {
    const ins = Object.fromEntries(Object.entries(r.inputs).map(([k, s]) => [k, tf.tensor(rnd(s), s)]));
    return () => {
      const out = tf.engine().runKernel(name, ins, r.attrs as NamedAttrMap) as Tensor;
      return out;
    };
  };
  progress(`[${++done}/${total}] ${r.kernel} ${r.variant}`);
  const ours = await time('wasm', make(r.ours));
  const own = r.own ? await time('wasm', make(r.own)) : undefined;
  const cpu = values.skipCpu ? undefined : await time('cpu', make(r.kernel));
  const row = {
    kernel: r.kernel,
    variant: r.variant,
    shape: r.shape,
    oursMs: ours,
    wasmOwnMs: own,
    cpuMs: cpu,
  };
  results.push(row);
  table.push({
    kernel: r.kernel,
    variant: r.variant,
    shape: r.shape,
    'wasm, ours (ms)': fmt(ours),
    "wasm's own (ms)": fmt(own),
    'cpu (ms)': fmt(cpu),
    'cpu / ours': cpu === undefined ? '-' : `${(cpu / ours).toFixed(1)}x`,
  });
}

// matMul for Gram matrices: transpose flag vs explicit transpose
{
  const a = [S * S, 32];
  progress(`[${++done}/${total}] Gram matrix a^T a, ${shp(a)}`);
  const mk = (flag: boolean) => () => {
    const t = tf.tensor(rnd(a), a);
    return () => (flag ? tf.matMul(t, t, true, false) : tf.tidy(() => tf.matMul(tf.transpose(t), t)));
  };
  const explicit = await time('wasm', mk(false));
  const flag = await time('wasm', mk(true));
  const cpu = values.skipCpu ? undefined : await time('cpu', mk(true));
  results.push({
    kernel: 'BatchMatMul',
    variant: 'Gram a^T a',
    shape: shp(a),
    oursMs: explicit,
    wasmOwnMs: flag,
    cpuMs: cpu,
  });
  table.push({
    kernel: 'BatchMatMul (Gram)',
    variant: 'transpose + matMul vs matMul(a, a, true)',
    shape: `a ${shp(a)}`,
    'wasm, ours (ms)': fmt(explicit),
    "wasm's own (ms)": fmt(flag),
    'cpu (ms)': fmt(cpu),
    'cpu / ours': cpu === undefined ? '-' : `${(cpu / explicit).toFixed(1)}x`,
  });
}

// one gradient step of a small style-like net: conv 9x9 -> 3x3 s2 -> depthwise 3x3 -> resize x2 -> 3x3
{
  progress(`[${++done}/${total}] gradient of a small conv net, 1x${S}x${S}x3`);
  const mk = () => () => {
    const x = tf.tensor(rnd([1, S, S, 3]), [1, S, S, 3]) as Tensor4D;
    const ws = [
      [9, 9, 3, 16],
      [3, 3, 16, 32],
      [3, 3, 32, 1],
      [3, 3, 32, 3],
    ].map((s) => tf.mul(tf.tensor(rnd(s), s), 0.1) as Tensor4D);
    const loss = (w1: Tensor, w2: Tensor, w3: Tensor, w4: Tensor) => {
      let h = tf.relu(tf.conv2d(x, w1 as Tensor4D, 1, 'same'));
      h = tf.relu(tf.conv2d(h, w2 as Tensor4D, 2, 'same'));
      h = tf.relu(tf.depthwiseConv2d(h, w3 as Tensor4D, 1, 'same'));
      h = tf.image.resizeNearestNeighbor(h, [S, S]);
      return tf.mean(tf.square(tf.conv2d(h, w4 as Tensor4D, 1, 'same')));
    };
    return () => tf.grads(loss)(ws);
  };
  const ours = await time('wasm', mk());
  registerWasmGradKernels(tf, { replace: ['Conv2DBackpropInput'] });
  const replaced = await time('wasm', mk());
  const cpu = values.skipCpu ? undefined : await time('cpu', mk());
  results.push({
    kernel: 'grads',
    variant: 'small net',
    shape: `1x${S}x${S}x3`,
    oursMs: ours,
    replacedInputMs: replaced,
    cpuMs: cpu,
  });
  table.push({
    kernel: 'tf.grads, small net',
    variant: 'ours | + Conv2DBackpropInput replaced',
    shape: `x 1x${S}x${S}x3`,
    'wasm, ours (ms)': `${fmt(ours)} | ${fmt(replaced)}`,
    "wasm's own (ms)": '-',
    'cpu (ms)': fmt(cpu),
    'cpu / ours': cpu === undefined ? '-' : `${(cpu / ours).toFixed(1)}x | ${(cpu / replaced).toFixed(1)}x`,
  });
}

printTable(table);
const file = writeResult('grad-kernels', {
  machine: machine(),
  size: S,
  note: "ms per call; oursMs: wasm with src/style/kernels registered; wasmOwnMs: wasm's own kernel (Conv2DBackpropInput: right but slow; MaxPoolGrad and the halfPixelCenters resize grads: wrong); BatchMatMul row: oursMs = explicit transpose + matMul, wasmOwnMs = matMul with transposeA",
  rows: results,
});
progress(`wrote ${file}`);
