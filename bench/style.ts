// Style network speed and flicker. npm run bench -- style [--sizes 320x180,480x270,640x360] [--archs ...]
// [--style NAME]: ms per frame and fps for every network size (random weights: timing only) at each
// size, side by side with Johnson et al.'s architecture in the same run, through the same runner the
// pipeline uses (pad, network, crop, RGB24 out) on tfjs wasm, one thread; then frame-to-frame flicker
// (mean absolute difference of consecutive stylised frames of a still scene with camera noise) with
// temporal smoothing off and on, for a trained style; then the real-time budget of issue #17: the
// default net (and every shipped style) at --onnx-size on ONNX Runtime with --onnx-threads intra-op
// threads, through the runner the style task uses with ONNX Runtime (pad, network, bilinear x2 of
// half-resolution nets, crop, RGB24 out), pass/fail against --target-fps.
import { mkdtempSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { convertFile } from '../src/inference/onnx/cache.js';
import { convertTfGraph, type TfNode } from '../src/inference/onnx/convert/index.js';
import { createOnnxEngine } from '../src/inference/onnx/engine.js';
import { encodeModel } from '../src/inference/onnx/proto.js';
import { styleTf } from '../src/style/backend.js';
import { STYLE_OUTPUT, styleGraph } from '../src/style/graph.js';
import { DEFAULT_STYLE_ARCH, initParams, paramCount, STYLE_ARCHS } from '../src/style/net.js';
import { StyleRunner } from '../src/style/runner.js';
import { listStyles, loadStyleDir, type StoredStyle } from '../src/style/store.js';
import { samplePhoto } from '../test/helpers/images.js';
import { machine, printTable, progress, writeResult } from './_util.js';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '320x180,480x270,640x360' },
    archs: { type: 'string', default: Object.keys(STYLE_ARCHS).join(',') },
    style: { type: 'string', default: 'starry-night' },
    frames: { type: 'string', default: '12' },
    'onnx-size': { type: 'string', default: '640x360' },
    'onnx-threads': { type: 'string', default: '2' },
    'onnx-frames': { type: 'string', default: '40' },
    'target-fps': { type: 'string', default: '30' },
  },
});
const sizes = (values.sizes as string).split(',').map((s) => s.split('x').map(Number) as [number, number]);
const archs = (values.archs as string).split(',');
const n = Number(values.frames);
const { tf, backend } = await styleTf('wasm');

async function frameOf(w: number, h: number, file = samplePhoto(1)): Promise<Uint8Array> {
  const { data } = await sharp(file)
    .resize(w, h, { fit: 'cover' })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return new Uint8Array(data);
}

const rows: Array<Record<string, string | number>> = [];
const results: Array<Record<string, unknown>> = [];
for (const name of archs) {
  const arch = STYLE_ARCHS[name];
  if (!arch) throw new Error(`unknown arch ${name}`);
  const p = initParams(tf, arch, 1);
  const params = Object.fromEntries(Object.entries(p).map(([k, v]) => [k, v.dataSync() as Float32Array]));
  tf.dispose(Object.values(p));
  const style: StoredStyle = { manifest: { name, archName: name, arch } as never, params, dir: '' };
  const runner = new StyleRunner(tf, style);
  for (const [w, h] of sizes) {
    const px = await frameOf(w, h);
    const iters = name === 'johnson' ? 2 : n;
    progress(`${name} ${w}x${h}: ${iters} frames`);
    runner.run(px, w, h); // warm-up (kernel set-up)
    const ms: number[] = [];
    for (let i = 0; i < iters; i++) {
      const t0 = performance.now();
      runner.run(px, w, h);
      ms.push(performance.now() - t0);
    }
    ms.sort((a, b) => a - b);
    const med = ms[Math.floor(ms.length / 2)] as number;
    rows.push({ net: name, params: paramCount(arch), size: `${w}x${h}`, 'ms/frame': med, fps: 1000 / med });
    results.push({
      arch: name,
      params: paramCount(arch),
      width: w,
      height: h,
      msPerFrame: med,
      fps: 1000 / med,
      samples: ms,
    });
  }
  runner.dispose();
}
console.log(`\nStyle networks on tfjs-${backend}, one thread (random weights; median of ${n} frames)\n`);
printTable(rows);

// Flicker on a still scene: the same photo with fresh camera noise (sigma 3) in every frame.
const flicker: Array<Record<string, number | string>> = [];
const dir = listStyles().get(values.style as string);
if (!dir) {
  console.log(`\nflicker: style "${values.style}" is not in models/styles; skipped`);
} else {
  const style = loadStyleDir(dir);
  const [w, h] = [480, 270];
  const base = await frameOf(w, h, samplePhoto(2));
  let seed = 7;
  const gauss = () => {
    // Box-Muller from a small LCG (repeatable)
    seed = (seed * 1103515245 + 12345) >>> 0;
    const u = (seed + 1) / 4294967297;
    seed = (seed * 1103515245 + 12345) >>> 0;
    const v = seed / 4294967296;
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
  const frames = Array.from({ length: 16 }, () =>
    base.map((x) => Math.max(0, Math.min(255, Math.round(x + 3 * gauss())))),
  );
  const mad = (a: Uint8Array, b: Uint8Array) => {
    let s = 0;
    for (let i = 0; i < a.length; i++) s += Math.abs((a[i] as number) - (b[i] as number));
    return s / a.length;
  };
  const inputMad =
    frames.slice(1).reduce((s, f, i) => s + mad(f, frames[i] as Uint8Array), 0) / (frames.length - 1);
  for (const smoothing of [0, 0.3, 0.6, 0.8]) {
    const r = new StyleRunner(tf, style);
    const outs = frames.map((f) => r.run(f, w, h, { smoothing }));
    r.dispose();
    // skip the first frames (smoothing warms up)
    const tail = outs.slice(4);
    const m = tail.slice(1).reduce((s, f, i) => s + mad(f, tail[i] as Uint8Array), 0) / (tail.length - 1);
    flicker.push({ style: style.manifest.name, smoothing, 'input MAD': inputMad, 'output MAD': m });
    progress(`flicker smoothing ${smoothing}: ${m.toFixed(2)}`);
  }
  console.log(
    `\nFlicker: mean absolute difference of consecutive frames (0..255) of a still scene with noise sigma 3, ${w}x${h}\n`,
  );
  printTable(flicker);
}
// Real-time budget on ONNX Runtime: the runner the style task uses (runWith), for the default net
// (seeded: speed does not depend on the weights) and the shipped styles.
const [ow, oh] = (values['onnx-size'] as string).split('x').map(Number) as [number, number];
const ortThreads = Number(values['onnx-threads']);
const ortFrames = Number(values['onnx-frames']);
const targetFps = Number(values['target-fps']);
const ort = await createOnnxEngine({
  intraOpThreads: ortThreads,
  executionProviders: ['cpu'],
  cacheDir: mkdtempSync(join(tmpdir(), 'vigil-bench-style-')),
});
const ortNets: Array<{ net: string; style: StoredStyle; bytes: Uint8Array }> = [];
{
  const arch = STYLE_ARCHS[DEFAULT_STYLE_ARCH] as (typeof STYLE_ARCHS)[string];
  const p = initParams(tf, arch, 1);
  const params = Object.fromEntries(Object.entries(p).map(([k, v]) => [k, v.dataSync() as Float32Array]));
  tf.dispose(Object.values(p));
  const { json, weights } = styleGraph(arch, params);
  const graph = {
    nodes: json.modelTopology.node as TfNode[],
    weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
    weightData: new Uint8Array(weights),
  };
  const manifest = { name: DEFAULT_STYLE_ARCH, archName: DEFAULT_STYLE_ARCH, arch } as never;
  ortNets.push({
    net: `${DEFAULT_STYLE_ARCH} (default, seeded)`,
    style: { manifest, params, dir: '' },
    bytes: encodeModel(convertTfGraph(graph, { outputs: [STYLE_OUTPUT], name: DEFAULT_STYLE_ARCH })),
  });
}
for (const [name, dir] of listStyles()) {
  const bytes = convertFile(join(dir, 'model.json'), { outputs: [STYLE_OUTPUT] }).bytes;
  ortNets.push({ net: `${name} (trained)`, style: loadStyleDir(dir), bytes });
}
/** Median and p90 of `n` timed calls after one warm-up call (session set-up). */
async function medianMs(n: number, f: () => Promise<unknown>): Promise<{ median: number; p90: number }> {
  await f();
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await f();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return { median: ms[Math.floor(ms.length / 2)] as number, p90: ms[Math.floor(ms.length * 0.9)] as number };
}
const budget: Array<Record<string, string | number>> = [];
const px = await frameOf(ow, oh);
const [ow4, oh4] = [Math.ceil(ow / 4) * 4, Math.ceil(oh / 4) * 4];
for (const { net, style, bytes } of ortNets) {
  const model = await ort.loadBytes(net, bytes, [STYLE_OUTPUT]);
  const runNet = async (x: { data: Float32Array; shape: number[] }) =>
    (await model.run(x))[0] as { data: Float32Array; shape: number[] };
  const runner = new StyleRunner(tf, style);
  // the network alone (what ONNX Runtime gets from the runner: the frame padded to multiples of 4)
  const x = { data: new Float32Array(ow4 * oh4 * 3).fill(127), shape: [1, oh4, ow4, 3] };
  const netMs = await medianMs(ortFrames, () => runNet(x));
  const runnerMs = await medianMs(ortFrames, () => runner.runWith(runNet, px, ow, oh));
  runner.dispose();
  model.dispose();
  const fps = 1000 / runnerMs.median;
  budget.push({
    net,
    size: `${ow}x${oh}`,
    engine: `onnx ${ortThreads} threads`,
    'network ms': netMs.median,
    'network fps': 1000 / netMs.median,
    [`network >= ${targetFps}`]: 1000 / netMs.median >= targetFps ? 'pass' : 'FAIL',
    'runner ms': runnerMs.median,
    'runner p90 ms': runnerMs.p90,
    'runner fps': fps,
    [`runner >= ${targetFps}`]: fps >= targetFps ? 'pass' : 'FAIL',
  });
  progress(
    `onnx ${net} ${ow}x${oh}: network ${netMs.median.toFixed(1)} ms, runner ${runnerMs.median.toFixed(1)} ms = ${fps.toFixed(1)} fps`,
  );
}
console.log(
  `\nReal-time budget: ONNX Runtime, ${ortThreads} intra-op threads, ${ow}x${oh}, through the runner (network alone, and the whole runner: median of ${ortFrames} frames)\n`,
);
printTable(budget);
const defaultRow = budget[0] as Record<string, string | number>;
const onnxBudget = {
  net: DEFAULT_STYLE_ARCH,
  width: ow,
  height: oh,
  threads: ortThreads,
  targetFps,
  fps: defaultRow['runner fps'],
  msPerFrame: defaultRow['runner ms'],
  networkFps: defaultRow['network fps'],
  // the budget is what a viewer gets: the whole runner, not the network alone
  pass: (defaultRow['runner fps'] as number) >= targetFps,
  networkPass: (defaultRow['network fps'] as number) >= targetFps,
  loadavg1m: loadavg()[0],
};
console.log(
  `\ndefault net ${DEFAULT_STYLE_ARCH} at ${ow}x${oh}, onnx ${ortThreads} threads, through the runner: ${(onnxBudget.fps as number).toFixed(1)} fps (network alone ${(onnxBudget.networkFps as number).toFixed(1)}), target >= ${targetFps}: ${onnxBudget.pass ? 'pass' : 'FAIL'} (network alone: ${onnxBudget.networkPass ? 'pass' : 'FAIL'})`,
);
const file = writeResult('style', {
  date: new Date().toISOString(),
  machine: machine(),
  params: {
    backend: `tfjs-${backend}`,
    threads: 1,
    frames: n,
    onnx: { size: `${ow}x${oh}`, threads: ortThreads, frames: ortFrames, targetFps },
    loadavg1m: loadavg()[0],
  },
  speed: rows,
  flicker,
  onnx: budget,
  onnxBudget,
  results,
});
console.log(`\nwrote ${file}`);
