// Faces: detection + embedding + match throughput at batch 1/8/32, and matching cost vs gallery size.
// npm run bench -- faces [--model faceres] [--batches 1,8,32] [--galleries 10,10000,100000,1000000] [--iters 3]
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { decodeImage } from '../src/util/image.js';
import { type RgbImage, shared } from '../src/util/rgb.js';
import { detectTask, embedDim, embedTask, setGallery } from '../src/faces/tasks/index.js';
import { InferenceHost } from '../src/inference/host.js';
import { manifest } from '../src/inference/model-loader.js';
import { createTfjsEngine } from '../src/inference/tfjs-engine.js';
import { DEFAULT_DETECTOR } from '../src/faces/detect/blazeface.js';
import { samplePhoto } from '../test/helpers/images.js';
import { machine, printTable, progress, writeResult } from './_util.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'faceres' },
    batches: { type: 'string', default: '1,8,32' },
    galleries: { type: 'string', default: '10,10000,100000,1000000' },
    iters: { type: 'string', default: '3' },
  },
});
const model = values.model as string;
const iters = Number(values.iters);
const dim = manifest(model).dim ?? 128;

// One-face images: the shared crops when present, else faces cut from the face-api sample photos.
const crops = join(process.cwd(), '..', 'shared', 'data', 'faces', 'dlib_johns_crops');
const files = existsSync(crops)
  ? readdirSync(crops).flatMap((d) => readdirSync(join(crops, d)).map((f) => join(crops, d, f)))
  : [1, 2, 3, 4, 5, 6].map(samplePhoto);
const images: RgbImage[] = [];
for (const f of files.slice(0, 32)) images.push(shared(await decodeImage(f, { maxSide: 640 })));
progress(
  `${images.length} images (${existsSync(crops) ? 'dlib_johns_crops' : 'face-api samples'}), model ${model} (${dim}-d)`,
);

const host = new InferenceHost({
  workers: 1,
  backend: 'wasm',
  tasks: [
    detectTask({ model: 'blazeface', options: DEFAULT_DETECTOR }),
    embedTask({ model, align: false, context: 1.3 }),
  ],
});
await host.start();
// a 10-person gallery so the match step runs
const g = new Float32Array(10 * embedDim(host)).map(() => Math.random() - 0.5);
setGallery(host, { version: 1, data: g, rows: 10, dim: embedDim(host) });

const rows: Array<Record<string, string | number>> = [];
for (const b of (values.batches as string).split(',').map(Number)) {
  const frames = Array.from({ length: b }, (_, i) => images[i % images.length] as RgbImage);
  let detMs = 0;
  let embMs = 0;
  let faces = 0;
  for (let it = 0; it <= iters; it++) {
    const t0 = performance.now();
    const det = await host.run('detect', frames);
    const t1 = performance.now();
    const req = det.result.flatMap((ds, i) =>
      ds.slice(0, 1).map((d) => ({ frame: i, box: d.box, landmarks: d.landmarks })),
    );
    await host.run('embed', frames, { faces: req, topK: 5 });
    const t2 = performance.now();
    if (it === 0) continue; // warm-up
    detMs += t1 - t0;
    embMs += t2 - t1;
    faces += req.length;
  }
  const total = (detMs + embMs) / 1000;
  rows.push({
    batch: b,
    'faces/s': faces / total,
    'detect ms/frame': detMs / iters / b,
    'embed+match ms/face': embMs / faces,
    'faces found/frame': faces / iters / b,
  });
  progress(`batch ${b}: ${(faces / total).toFixed(1)} faces/s`);
}
await host.close();
console.log(
  `\nfaces: BlazeFace detection + ${model} embedding + gallery match (10 people), one worker, wasm\n`,
);
printTable(rows);

// Matching alone: one matrix product + top-5 for a batch of 8 queries, on the same backend.
const engine = await createTfjsEngine('wasm');
const matchRows: Array<Record<string, string | number>> = [];
for (const k of (values.galleries as string).split(',').map(Number)) {
  let d = dim;
  if (k * d * 4 > 1.5 * 2 ** 30) d = 128; // the wasm heap holds < 2 GiB: 1M x 1024-d (4 GiB) cannot fit
  const data = new Float32Array(k * d);
  for (let i = 0; i < data.length; i++) data[i] = Math.random() - 0.5;
  const m = engine.matrix(data, k, d);
  const q = new Float32Array(8 * d).map(() => Math.random() - 0.5);
  await m.topK(q, 8, 5);
  const t0 = performance.now();
  for (let i = 0; i < iters; i++) await m.topK(q, 8, 5);
  const ms = (performance.now() - t0) / iters;
  m.dispose();
  matchRows.push({
    'gallery rows': k,
    dim: d,
    'ms per batch of 8': ms,
    'share of a 200 ms frame budget %': (ms / 200) * 100,
  });
  progress(`gallery ${k} x ${d}: ${ms.toFixed(2)} ms per batch of 8`);
}
console.log('\nmatching: one matMul + topK (k=5) for 8 queries, wasm, main thread\n');
printTable(matchRows);
const file = writeResult('faces', {
  bench: 'faces',
  date: new Date().toISOString(),
  machine: machine(),
  params: values,
  input: existsSync(crops) ? 'shared/data/faces/dlib_johns_crops' : 'face-api sample photos',
  runs: rows,
  matching: matchRows,
});
console.log(`\nwritten: ${file}`);
