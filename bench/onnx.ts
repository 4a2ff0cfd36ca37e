// tfjs-wasm vs ONNX Runtime on this machine, in one run: the detector (ms/frame) and faceres
// (ms/face) at batch 1 and 8 through the real inference workers, each style net at 320x180 /
// 480x270 / 640x360, and the recognition capacity (640x360 cameras at 5 detect fps with faceres).
// npm run bench -- onnx [--seconds 8] [--styles tiny,small,small-full,medium,johnson]
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { DEFAULT_DETECTOR } from '../src/faces/detect/blazeface.js';
import { decodeImage } from '../src/util/image.js';
import { type RgbImage, shared } from '../src/util/rgb.js';
import type { Detection, InferenceEngine, LoadedModel } from '../src/inference/contract.js';
import { InferenceHost } from '../src/inference/host.js';
import { PROJECT_ROOT } from '../src/util/paths.js';
import { convertFile } from '../src/inference/onnx/cache.js';
import { convertTfGraph, type TfNode } from '../src/inference/onnx/convert/index.js';
import { createOnnxEngine } from '../src/inference/onnx/engine.js';
import { encodeModel } from '../src/inference/onnx/proto.js';
import type { EngineSettings } from '../src/inference/protocol.js';
import { detectTask, embedTask } from '../src/faces/tasks/index.js';
import { createTfjsEngine } from '../src/inference/tfjs-engine.js';
import { loadPipeline, stageSettings } from '../src/pipeline/definition.js';
import type { RecognizeStageConfig } from '../src/pipeline/stages/recognize.js';
import { decodeVideoFrames } from '../src/sources/video-frames.js';
import { STYLE_OUTPUT, styleGraph } from '../src/style/graph.js';
import { DEFAULT_STYLE_ARCH, initParams, STYLE_ARCHS } from '../src/style/net.js';
import { listStyles } from '../src/style/store.js';
import { packageRoot } from '../src/util/packages.js';
import { machine, printTable, progress, writeResult } from './_util.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '8' },
    styles: { type: 'string', default: Object.keys(STYLE_ARCHS).join(',') },
    /** Faces embedded per camera and second in the capacity figure (3 faces refreshed every 3 s). */
    facesPerCameraSecond: { type: 'string', default: '1' },
  },
});
const seconds = Number(values.seconds);
// The machine is shared: its load is part of the result (2 cores: a load of 2 means no idle core).
const loadStart = loadavg()[0] as number;
const facesPerCamSec = Number(values.facesPerCameraSecond);
const cacheDir = mkdtempSync(join(tmpdir(), 'vigil-bench-onnx-'));
const plan = stageSettings(loadPipeline('recognize'));
const rec = plan.recognize as RecognizeStageConfig;
const tasks = [
  detectTask({ model: 'blazeface', options: { ...DEFAULT_DETECTOR, ...plan.detect } }),
  embedTask({ model: rec.model, align: rec.align, context: rec.context }),
];
const settings = (engine: 'tfjs' | 'onnx', threads: number): EngineSettings => ({
  engine,
  models: {},
  onnx: { intraOpThreads: threads, executionProviders: ['cpu'], cacheDir },
});

// --- inputs: frames of the shared clip (640x360), else the face-api sample photos ----------------
const clip = join(PROJECT_ROOT, '..', 'shared', 'data', 'video', 'short_hamilton_clip.mp4');
let frames: RgbImage[] = [];
let input: string;
if (existsSync(clip)) {
  frames = decodeVideoFrames(clip, { fps: 2, width: 640, height: 360 }).map(shared);
  input = `${frames.length} frames (2 fps, 640x360) of shared/data/video/short_hamilton_clip.mp4`;
} else {
  const dir = join(packageRoot('@vladmandic/face-api'), 'demo');
  frames = await Promise.all(
    [1, 2, 3, 4, 5, 6].map(async (i) => shared(await decodeImage(join(dir, `sample${i}.jpg`)))),
  );
  input = 'the 6 sample photos of @vladmandic/face-api (../shared/data absent)';
}
progress(`input: ${input}`);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const r1 = (x: number) => Math.round(x * 10) / 10;

// --- 1. detector and faceres through the workers ------------------------------------------------
const configs = [
  { label: 'tfjs-wasm', engines: undefined, workers: 1 },
  { label: 'onnx 1 thread', engines: settings('onnx', 1), workers: 1 },
  { label: 'onnx 2 threads', engines: settings('onnx', 2), workers: 1 },
];
const modelRows: Array<Record<string, string | number>> = [];
const faces: Array<{ frame: number; box: Detection['box']; landmarks: Detection['landmarks'] }> = [];
for (const c of configs) {
  progress(`${c.label}: starting a worker (conversion, equivalence check)`);
  const host = new InferenceHost({ workers: 1, backend: 'wasm', tasks, engines: c.engines });
  await host.start();
  if (!faces.length) {
    for (let i = 0; i < frames.length && faces.length < 8; i++) {
      const d = (await host.run('detect', [frames[i] as RgbImage])).result[0] ?? [];
      for (const f of d) if (faces.length < 8) faces.push({ frame: i, box: f.box, landmarks: f.landmarks });
    }
    progress(`${faces.length} faces for the embedding figures`);
  }
  const row: Record<string, string | number> = { engine: c.label };
  for (const b of [1, 8]) {
    const ms: number[] = [];
    const t0 = performance.now();
    for (let i = 0; ms.length < 40 && (performance.now() - t0 < seconds * 500 || ms.length < 3); i++) {
      const batch = Array.from({ length: b }, (_, k) => frames[(i * b + k) % frames.length] as RgbImage);
      ms.push((await host.run('detect', batch)).ms / b);
    }
    row[`detector ms/frame b${b}`] = r1(median(ms));
    progress(`${c.label}: detector batch ${b}: ${row[`detector ms/frame b${b}`]} ms/frame`);
  }
  for (const b of [1, 8]) {
    const ms: number[] = [];
    const t0 = performance.now();
    const used = [...new Set(faces.slice(0, b).map((f) => f.frame))];
    const pix = used.map((i) => frames[i] as RgbImage);
    const reqs = Array.from({ length: b }, (_, k) => {
      const f = faces[k % faces.length] as (typeof faces)[number];
      return { ...f, frame: used.indexOf(f.frame) };
    });
    while (ms.length < 30 && (performance.now() - t0 < seconds * 500 || ms.length < 3))
      ms.push((await host.run('embed', pix, { faces: reqs, topK: 0 })).ms / b);
    row[`${rec.model} ms/face b${b}`] = r1(median(ms));
    progress(`${c.label}: ${rec.model} batch ${b}: ${row[`${rec.model} ms/face b${b}`]} ms/face`);
  }
  modelRows.push(row);
  await host.close();
}
printTable(modelRows);

// --- 2. style nets, in-process (one thread of this process for tfjs, ORT sessions as configured) -
const sizes: Array<[number, number, string]> = [
  [320, 180, '320x180'],
  [480, 272, '480x270'],
  [640, 360, '640x360'],
];
const styleRows: Array<Record<string, string | number>> = [];
const tfjs: InferenceEngine = await createTfjsEngine('wasm');
const ort2 = await createOnnxEngine({ intraOpThreads: 2, executionProviders: ['cpu'], cacheDir });
const ort1 = await createOnnxEngine({ intraOpThreads: 1, executionProviders: ['cpu'], cacheDir });
const styleNets: Array<{ name: string; bytes: Uint8Array; json: string }> = [];
for (const arch of (values.styles as string).split(',').filter(Boolean)) {
  const a = STYLE_ARCHS[arch];
  if (!a) throw new Error(`unknown style architecture "${arch}" (${Object.keys(STYLE_ARCHS).join(', ')})`);
  const p = tf.tidy(() => initParams(tf, a, 1));
  const params = Object.fromEntries(Object.entries(p).map(([k, t]) => [k, t.dataSync() as Float32Array]));
  tf.dispose(Object.values(p));
  const { json, weights } = styleGraph(a, params);
  const dir = mkdtempSync(join(tmpdir(), `vigil-bench-style-${arch}-`));
  writeFileSync(join(dir, 'weights.bin'), weights);
  writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
  const bytes = encodeModel(
    convertTfGraph(
      {
        nodes: json.modelTopology.node as TfNode[],
        weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
        weightData: new Uint8Array(weights),
      },
      { outputs: [STYLE_OUTPUT], name: arch },
    ),
  );
  styleNets.push({
    name: `${arch}${arch === DEFAULT_STYLE_ARCH ? ' (default)' : ''} (seeded)`,
    bytes,
    json: join(dir, 'model.json'),
  });
}
for (const [name, dir] of listStyles()) {
  const file = join(dir, 'model.json');
  styleNets.push({
    name: `${name} (trained)`,
    bytes: convertFile(file, { outputs: [STYLE_OUTPUT] }).bytes,
    json: file,
  });
}

/** ms per frame: median of calls after a warm-up, for about `budget` ms (at least 2, at most 20 calls). */
async function timeRuns(m: LoadedModel, w: number, h: number, budget: number): Promise<number> {
  const x = { data: new Float32Array(w * h * 3).fill(127), shape: [1, h, w, 3] };
  await m.run(x);
  const ms: number[] = [];
  const t0 = performance.now();
  while (ms.length < 20 && (ms.length < 2 || performance.now() - t0 < budget)) {
    const s = performance.now();
    await m.run(x);
    ms.push(performance.now() - s);
  }
  return median(ms);
}

for (const net of styleNets) {
  // tfjs reads a "vigil" model by its path relative to the project root
  const tfModel = await tfjs.load({
    name: net.name,
    package: 'vigil',
    path: relative(PROJECT_ROOT, net.json),
    format: 'tfjs-graph',
    input: [360, 640, 3],
    outputs: [STYLE_OUTPUT],
  });
  const o2 = await ort2.loadBytes(net.name, net.bytes, [STYLE_OUTPUT]);
  const o1 = await ort1.loadBytes(net.name, net.bytes, [STYLE_OUTPUT]);
  for (const [w, h, label] of sizes) {
    const row: Record<string, string | number> = { net: net.name, size: label };
    const t = await timeRuns(tfModel, w, h, seconds * 200);
    const a1 = await timeRuns(o1, w, h, seconds * 200);
    const a2 = await timeRuns(o2, w, h, seconds * 200);
    row['tfjs-wasm ms'] = r1(t);
    row['onnx 1t ms'] = r1(a1);
    row['onnx 2t ms'] = r1(a2);
    row['tfjs fps'] = r1(1000 / t);
    row['onnx fps'] = r1(1000 / Math.min(a1, a2));
    row.speed_up = `${r1(t / Math.min(a1, a2))}x`;
    styleRows.push(row);
    progress(
      `style ${net.name} ${label}: tfjs ${row['tfjs-wasm ms']} ms, onnx ${row['onnx 1t ms']} / ${row['onnx 2t ms']} ms (1/2 threads)`,
    );
  }
  tfModel.dispose();
  o1.dispose();
  o2.dispose();
}
printTable(styleRows);

// --- 3. recognition capacity: every worker busy with the camera mix ------------------------------
// One camera-second = 5 frames detected (cross-stream batches of 8) + `facesPerCameraSecond`
// faces embedded (batches of 8). Capacity = camera-seconds the workers complete per second, i.e.
// how many 640x360 cameras at 5 detect fps the inference alone can keep up with, all cores used.
const capConfigs = [
  { label: 'tfjs-wasm, 1 worker', engines: undefined, workers: 1 },
  { label: 'tfjs-wasm, 2 workers', engines: undefined, workers: 2 },
  { label: 'onnx, 1 worker x 2 threads', engines: settings('onnx', 2), workers: 1 },
  { label: 'onnx, 2 workers x 1 thread', engines: settings('onnx', 1), workers: 2 },
];
const capRows: Array<Record<string, string | number>> = [];
const faceBatch = Array.from({ length: 8 }, (_, k) => faces[k % Math.max(1, faces.length)]).filter(
  Boolean,
) as typeof faces;
const faceFrames = [...new Set(faceBatch.map((f) => f.frame))];
const faceReqs = faceBatch.map((f) => ({ ...f, frame: faceFrames.indexOf(f.frame) }));
for (const c of capConfigs) {
  progress(`capacity, ${c.label}: starting`);
  const host = new InferenceHost({ workers: c.workers, backend: 'wasm', tasks, engines: c.engines });
  await host.start();
  let framesDone = 0;
  let facesDone = 0;
  let k = 0;
  const until = performance.now() + seconds * 1000;
  const t0 = performance.now();
  const lane = async () => {
    while (performance.now() < until) {
      // keep the 5 : facesPerCameraSecond ratio of frames to faces
      const wantFaces = (framesDone / 5) * facesPerCamSec;
      if (faceReqs.length && facesDone < wantFaces) {
        facesDone += (
          await host.run(
            'embed',
            faceFrames.map((i) => frames[i] as RgbImage),
            { faces: faceReqs, topK: 5 },
          )
        ).result.faces.length;
      } else {
        const batch = Array.from({ length: 8 }, () => frames[k++ % frames.length] as RgbImage);
        await host.run('detect', batch);
        framesDone += batch.length;
      }
    }
  };
  await Promise.all(Array.from({ length: c.workers }, lane));
  const wall = (performance.now() - t0) / 1000;
  const camSec = Math.min(
    framesDone / 5,
    facesPerCamSec > 0 ? facesDone / facesPerCamSec : Number.POSITIVE_INFINITY,
  );
  capRows.push({
    configuration: c.label,
    'detect fps': r1(framesDone / wall),
    'faces/s': r1(facesDone / wall),
    cameras: r1(camSec / wall),
  });
  progress(`capacity, ${c.label}: ${r1(camSec / wall)} cameras`);
  await host.close();
}
const best = (pred: (r: Record<string, string | number>) => boolean) =>
  Math.max(...capRows.filter(pred).map((r) => r.cameras as number));
const tfBest = best((r) => String(r.configuration).startsWith('tfjs'));
const oxBest = best((r) => String(r.configuration).startsWith('onnx'));
for (const r of capRows) r['vs best tfjs'] = `${r1((r.cameras as number) / tfBest)}x`;
printTable(capRows);
progress(`recognition capacity: onnx ${oxBest} vs tfjs-wasm ${tfBest} cameras (${r1(oxBest / tfBest)}x)`);

const file = writeResult('onnx', {
  date: new Date().toISOString(),
  machine: machine(),
  input,
  params: {
    seconds,
    facesPerCameraSecond: facesPerCamSec,
    styles: values.styles,
    loadavg1mStartEnd: [r1(loadStart), r1(loadavg()[0] as number)],
  },
  models: modelRows,
  style: styleRows,
  capacity: capRows,
  ratio: { capacity: r1(oxBest / tfBest) },
});
progress(`written ${file}`);
