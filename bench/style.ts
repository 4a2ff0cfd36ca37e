// Style network speed and flicker. npm run bench -- style [--sizes 320x180,480x270,640x360] [--archs ...]
// [--style NAME]: ms per frame and fps for every network size (random weights: timing only) at each
// size, side by side with Johnson et al.'s architecture in the same run, through the same runner the
// pipeline uses (pad, network, crop, RGB24 out) on tfjs wasm, one thread; then frame-to-frame flicker
// (mean absolute difference of consecutive stylised frames of a still scene with camera noise) with
// temporal smoothing off and on, for a trained style.
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { styleTf } from '../src/style/backend.js';
import { initParams, paramCount, STYLE_ARCHS } from '../src/style/net.js';
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
const file = writeResult('style', {
  date: new Date().toISOString(),
  machine: machine(),
  params: { backend: `tfjs-${backend}`, threads: 1, frames: n, loadavg1m: loadavg()[0] },
  speed: rows,
  flicker,
  results,
});
console.log(`\nwrote ${file}`);
