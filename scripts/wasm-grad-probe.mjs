// Which kernels does tfjs-backend-wasm lack for the gradients of the ops the style trainer uses?
// node scripts/wasm-grad-probe.mjs [--register]   (--register: with src/style/kernels registered first)
// Prints one line per op variant: ok, or the missing kernel(s); exits 1 if any is missing.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { build } from 'esbuild';

await tf.setBackend('wasm');
await tf.ready();
// tfjs-core's node bundle has no gradient registrations: src/style/kernels/gradients/index.ts supplies them.
const withKernels = process.argv.includes('--register');
const outfile = join(process.cwd(), 'bench', '.build', 'wasm-grad-probe-entry.mjs');
await build({
  stdin: {
    contents: `export { registerStyleGradients } from './src/style/kernels/gradients/index.ts';
export { registerWasmGradKernels } from './src/style/kernels/wasm-grad.ts';`,
    resolveDir: process.cwd(),
    loader: 'ts',
  },
  bundle: true,
  platform: 'node',
  format: 'esm',
  packages: 'external',
  outfile,
  logLevel: 'warning',
});
const entry = await import(pathToFileURL(outfile).href);
entry.registerStyleGradients(tf);
if (withKernels) console.log('registered kernels:', entry.registerWasmGradKernels(tf).join(', ') || '(none)');

const r = (shape) => tf.randomNormal(shape);
const x4 = () => r([2, 9, 11, 4]);
/** [name, inputs factory, f(...inputs) -> tensor] */
const cases = [];
for (const k of [1, 3, 9])
  for (const s of [1, 2])
    for (const pad of ['same', 'valid', 1])
      cases.push([
        `conv2d k${k} s${s} ${pad}`,
        () => [r([2, 13, 15, 3]), r([k, k, 3, 4])],
        (x, f) =>
          tf.conv2d(
            x,
            f,
            s,
            pad === 1
              ? [
                  [0, 0],
                  [1, 2],
                  [2, 1],
                  [0, 0],
                ]
              : pad,
          ),
      ]);
for (const s of [1, 2])
  for (const pad of ['same', 'valid'])
    cases.push([
      `depthwiseConv2d k3 s${s} ${pad}`,
      () => [x4(), r([3, 3, 4, 1])],
      (x, f) => tf.depthwiseConv2d(x, f, s, pad),
    ]);
cases.push([
  'conv2dTranspose k3 s2',
  () => [r([2, 5, 6, 4]), r([3, 3, 3, 4])],
  (x, f) => tf.conv2dTranspose(x, f, [2, 10, 12, 3], 2, 'same'),
]);
for (const hp of [false, true]) {
  cases.push([
    `resizeNearestNeighbor x2 hpc=${hp}`,
    () => [x4()],
    (x) => tf.image.resizeNearestNeighbor(x, [18, 22], false, hp),
  ]);
  cases.push([
    `resizeBilinear x2 hpc=${hp}`,
    () => [x4()],
    (x) => tf.image.resizeBilinear(x, [18, 22], false, hp),
  ]);
}
cases.push([
  'mirrorPad reflect',
  () => [x4()],
  (x) =>
    tf.mirrorPad(
      x,
      [
        [0, 0],
        [4, 4],
        [4, 4],
        [0, 0],
      ],
      'reflect',
    ),
]);
cases.push(['avgPool 2x2 s2', () => [x4()], (x) => tf.avgPool(x, 2, 2, 'valid')]);
cases.push(['avgPool 3x3 s2 same', () => [x4()], (x) => tf.avgPool(x, 3, 2, 'same')]);
cases.push(['maxPool 2x2 s2', () => [x4()], (x) => tf.maxPool(x, 2, 2, 'valid')]);
cases.push(['maxPool 3x3 s2 same', () => [x4()], (x) => tf.maxPool(x, 3, 2, 'same')]);
for (const [n, f] of Object.entries({
  relu: tf.relu,
  sigmoid: tf.sigmoid,
  tanh: tf.tanh,
  elu: tf.elu,
  leakyRelu: (x) => tf.leakyRelu(x, 0.2),
  relu6: tf.relu6,
  square: tf.square,
  sqrt: (x) => tf.sqrt(tf.abs(x)),
  exp: tf.exp,
  abs: tf.abs,
  rsqrt: (x) => tf.rsqrt(tf.add(tf.abs(x), 0.5)),
  clipByValue: (x) => tf.clipByValue(x, -0.5, 0.5),
  mean: (x) => tf.mean(x, [1, 2], true),
  sum: (x) => tf.sum(x, [1, 2]),
  meanAll: (x) => tf.mean(x),
  moments: (x) => {
    const m = tf.moments(x, [1, 2], true);
    return tf.add(m.mean, m.variance);
  },
  reshape: (x) => tf.reshape(x, [2, -1]),
  transpose: (x) => tf.transpose(x, [0, 3, 1, 2]),
  slice: (x) => tf.slice(x, [0, 1, 1, 0], [2, 5, 5, 4]),
  concat: (x) => tf.concat([x, x], 3),
}))
  cases.push([n, () => [x4()], f]);
for (const [n, f] of Object.entries({
  add: tf.add,
  sub: tf.sub,
  mul: tf.mul,
  div: (a, b) => tf.div(a, tf.add(tf.abs(b), 1)),
  squaredDifference: tf.squaredDifference,
  maximum: tf.maximum,
  'add broadcast': (a, b) => tf.add(a, tf.mean(b, [1, 2], true)),
  'mul broadcast': (a, b) => tf.mul(a, tf.mean(b, [1, 2], true)),
}))
  cases.push([n, () => [x4(), x4()], f]);
cases.push([
  'instanceNorm',
  () => [x4(), r([4]), r([4])],
  (x, g, b) => {
    const { mean, variance } = tf.moments(x, [1, 2], true);
    return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5))), g), b);
  },
]);
cases.push(['matMul', () => [r([7, 5]), r([5, 6])], (a, b) => tf.matMul(a, b)]);
cases.push(['matMul(a,b,true,false) gram', () => [r([30, 8])], (a) => tf.matMul(a, a, true, false)]);
cases.push(['matMul(a,b,false,true)', () => [r([8, 30])], (a) => tf.matMul(a, a, false, true)]);
cases.push(['batch matMul T,F', () => [r([2, 30, 8])], (a) => tf.matMul(a, a, true, false)]);

let missing = 0;
const kernels = new Set();
for (const [name, make, f] of cases) {
  const inputs = make();
  const before = tf.memory().numTensors;
  try {
    const grads = tf.grads((...xs) => tf.sum(tf.mul(f(...xs), 1.5)))(inputs);
    tf.dispose(grads);
    console.log(`ok       ${name}`);
  } catch (e) {
    const m = /Kernel '(\w+)' not registered|kernel '(\w+)'/i.exec(e.message);
    missing++;
    if (m) kernels.add(m[1] ?? m[2]);
    console.log(`MISSING  ${name}: ${e.message.split('\n')[0]}`);
  }
  const leaked = tf.memory().numTensors - before;
  if (leaked) console.log(`         (${leaked} tensors not freed)`);
  tf.dispose(inputs);
}
console.log(
  `\n${missing} of ${cases.length} variants fail; missing kernels: ${[...kernels].join(', ') || 'none'}`,
);
// A gradient stops at its first missing kernel: list every backward kernel the gradients above reach.
const backward = [
  'Conv2DBackpropInput',
  'Conv2DBackpropFilter',
  'DepthwiseConv2dNativeBackpropInput',
  'DepthwiseConv2dNativeBackpropFilter',
  'ResizeNearestNeighborGrad',
  'ResizeBilinearGrad',
  'AvgPoolGrad',
  'MaxPoolGrad',
  'EluGrad',
];
const absent = backward.filter((k) => !tf.getKernel(k, 'wasm'));
console.log(`backward kernels absent on wasm: ${absent.join(', ') || 'none'}`);
process.exit(missing || absent.length ? 1 : 0);
