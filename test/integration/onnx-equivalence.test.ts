/**
 * ONNX Runtime vs tfjs on real inputs, through the real inference workers: BlazeFace's decoded boxes
 * (within 1 px) and faceres embeddings (cosine >= 0.9999) on the sample photos of @vladmandic/face-api
 * (always installed) and, when ../shared/data is present, the labelled face photos, the aligned face
 * chips and frames of the shared video. Models that cannot be used on ONNX Runtime (unsupported op,
 * corrupt converted file, a model built op by op in tfjs) run on tfjs instead, and say why.
 */
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Vigil } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';
import { DEFAULT_DETECTOR } from '../../src/faces/detect/blazeface.js';
import { compareDetections } from '../../src/faces/detect/compare.js';
import { detectTask, embedTask } from '../../src/faces/tasks/index.js';
import { decodeImage } from '../../src/util/image.js';
import type { RgbImage } from '../../src/util/rgb.js';
import type { Detection } from '../../src/inference/contract.js';
import { InferenceHost } from '../../src/inference/host.js';
import { manifest } from '../../src/inference/model-loader.js';
import { PROJECT_ROOT } from '../../src/util/paths.js';
import { convertCached } from '../../src/inference/onnx/cache.js';
import { createOnnxEngine } from '../../src/inference/onnx/engine.js';
import { chooseEngine } from '../../src/inference/onnx/select.js';
import { compareEmbeddings, type Equivalence } from '../../src/inference/onnx/verify.js';
import type { EngineChoice, EngineSettings } from '../../src/inference/protocol.js';
import { createTfjsEngine } from '../../src/inference/tfjs-engine.js';
import { loadPipeline, stageSettings } from '../../src/pipeline/definition.js';
import type { RecognizeStageConfig } from '../../src/pipeline/stages/recognize.js';
import { decodeVideoFrames } from '../../src/sources/video-frames.js';
import { DATA } from '../helpers/faces.js';
import { samplePhoto } from '../helpers/images.js';
import { GraphBuilder, lcg, writeModelJson } from '../helpers/onnx-graph.js';

const cacheDir = mkdtempSync(join(tmpdir(), 'vigil-onnx-eq-'));
const settings = (engine: EngineChoice, dir = cacheDir): EngineSettings => ({
  engine,
  models: {},
  onnx: { intraOpThreads: 0, executionProviders: ['cpu'], cacheDir: dir },
});
const plan = stageSettings(loadPipeline('recognize'));
const rec = plan.recognize as RecognizeStageConfig;
const detector = () => detectTask({ model: 'blazeface', options: { ...DEFAULT_DETECTOR, ...plan.detect } });
const tasks = (embedModel = rec.model) => [
  detector(),
  embedTask({ model: embedModel, align: rec.align, context: rec.context }),
];

/** Every image of every identity folder of a shared set (at most `per` per identity). */
function listSet(set: string, per = 99): string[] {
  const dir = join(DATA, 'faces', set);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .sort()
    .flatMap((id) =>
      readdirSync(join(dir, id))
        .sort()
        .slice(0, per)
        .map((f) => join(dir, id, f)),
    );
}

/** Frames of the shared video (640x360 RGB), `fps` per second. */
function videoFrames(fps: number): RgbImage[] {
  const file = join(DATA, 'video', 'short_hamilton_clip.mp4');
  return existsSync(file) ? decodeVideoFrames(file, { fps, width: 640, height: 360 }) : [];
}

const worst = (all: Equivalence[], measure: Equivalence['measure']): Equivalence =>
  all.reduce((a, b) => ((measure === 'cosine' ? b.value < a.value : b.value > a.value) ? b : a));

describe('ONNX Runtime equivalence on real inputs (workers, tfjs vs onnx)', () => {
  let tf: InferenceHost;
  let ox: InferenceHost;
  const inputs: Array<{ label: string; img: RgbImage }> = [];

  beforeAll(async () => {
    tf = new InferenceHost({ workers: 1, backend: 'wasm', tasks: tasks() });
    ox = new InferenceHost({ workers: 1, backend: 'wasm', tasks: tasks(), engines: settings('onnx') });
    await Promise.all([tf.start(), ox.start()]);
    for (let i = 1; i <= 6; i++) inputs.push({ label: `sample${i}`, img: await decodeImage(samplePhoto(i)) });
    if (!existsSync(DATA))
      console.warn(`shared data absent (${DATA}): only the face-api sample photos are compared`);
    for (const f of listSet('facerec_photos'))
      inputs.push({ label: relative(DATA, f), img: await decodeImage(f) });
    for (const f of listSet('dlib_johns_crops', 2))
      inputs.push({ label: relative(DATA, f), img: await decodeImage(f) });
    videoFrames(1).forEach((img, i) => {
      inputs.push({ label: `video frame ${i}`, img });
    });
  }, 180_000);
  afterAll(async () => {
    await Promise.all([tf?.close(), ox?.close()]);
  });

  it('both models run on ONNX Runtime after passing their start-up check', () => {
    expect(ox.models.map((r) => [r.model, r.engine, r.backend])).toEqual([
      ['blazeface', 'onnx', 'cpu'],
      [rec.model, 'onnx', 'cpu'],
    ]);
    for (const r of ox.models) expect(r.equivalence?.ok).toBe(true);
  });

  it('detector: the same boxes within 1 px on every photo and video frame', async () => {
    const results: Equivalence[] = [];
    let faces = 0;
    for (const { label, img } of inputs) {
      const a = (await tf.run('detect', [img])).result;
      const b = (await ox.run('detect', [img])).result;
      faces += a[0]?.length ?? 0;
      const eq = compareDetections(a, b, label);
      expect(eq.ok, `${label}: ${eq.detail ?? eq.value}`).toBe(true);
      results.push(eq);
    }
    const w = worst(results, 'box_px');
    console.log(
      `blazeface: ${inputs.length} images, ${faces} faces, worst box difference ${w.value.toFixed(4)} px (${w.inputs})`,
    );
    expect(faces).toBeGreaterThan(inputs.length * 0.8);
  }, 180_000);

  it(`${rec.model}: embeddings of every detected face agree (cosine >= 0.9999)`, async () => {
    const results: Equivalence[] = [];
    let n = 0;
    for (const { label, img } of inputs) {
      const dets: Detection[] = (await tf.run('detect', [img])).result[0] ?? [];
      if (!dets.length) continue;
      const faces = dets.slice(0, 8).map((d) => ({ frame: 0, box: d.box, landmarks: d.landmarks }));
      const a = (await tf.run('embed', [img], { faces, topK: 0 })).result;
      const b = (await ox.run('embed', [img], { faces, topK: 0 })).result;
      const flat = (r: typeof a) => Float32Array.from(r.faces.flatMap((f) => Array.from(f.embedding)));
      const eq = compareEmbeddings(flat(a), flat(b), faces.length, label);
      expect(eq.ok, `${label}: cosine ${eq.value}`).toBe(true);
      results.push(eq);
      n += faces.length;
    }
    const w = worst(results, 'cosine');
    console.log(
      `${rec.model}: ${n} faces, lowest cosine ${w.value.toFixed(9)} (1 - cos = ${(1 - w.value).toExponential(2)}, ${w.inputs})`,
    );
    expect(n).toBeGreaterThan(10);
  }, 300_000);
});

describe('models ONNX Runtime cannot run stay on tfjs, and say why', () => {
  it('faceapi-resnet34 (built op by op in tfjs) is not converted: tfjs runs it', async () => {
    const host = new InferenceHost({
      workers: 1,
      backend: 'wasm',
      tasks: tasks('faceapi-resnet34'),
      engines: { ...settings('onnx'), models: { blazeface: 'tfjs' } },
    });
    await host.start();
    try {
      const r = host.models.find((m) => m.model === 'faceapi-resnet34');
      expect(r?.engine).toBe('tfjs');
      expect(r?.fallback?.reason).toBe('conversion');
      expect(r?.fallback?.message).toMatch(/format "faceapi-resnet34"/);
      const img = await decodeImage(samplePhoto(2));
      const d = (await host.run('detect', [img])).result[0] ?? [];
      const { result: e } = await host.run('embed', [img], {
        faces: [{ frame: 0, box: d[0]?.box ?? [0, 0, 50, 50], landmarks: d[0]?.landmarks ?? [] }],
        topK: 0,
      });
      expect(e.faces[0]?.embedding.length).toBe(128);
    } finally {
      await host.close();
    }
  }, 120_000);

  it('a corrupt converted model: ONNX Runtime refuses it, the worker runs tfjs and detects faces', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-onnx-corrupt-'));
    const c = convertCached(manifest('blazeface'), dir);
    writeFileSync(c.path, Buffer.from('this is not an ONNX model'));
    const logs: string[] = [];
    const host = new InferenceHost({
      workers: 1,
      backend: 'wasm',
      tasks: [detector()],
      engines: settings('onnx', dir),
      log: (m) => logs.push(m),
    });
    await host.start();
    try {
      const r = host.models[0];
      expect(r?.engine).toBe('tfjs');
      expect(r?.fallback?.reason).toBe('load');
      expect(r?.fallback?.message).toMatch(/ONNX Runtime could not load "blazeface"/);
      expect(logs.join('\n')).toMatch(
        /blazeface \(detect\): tfjs\/wasm.*ONNX not used \(load\).*falling back to tfjs/,
      );
      const d = (await host.run('detect', [await decodeImage(samplePhoto(1))])).result[0] ?? [];
      expect(d.length).toBeGreaterThan(0);
    } finally {
      await host.close();
    }
  }, 120_000);

  it('an unsupported op: the error names the op and node, and the model runs on tfjs', async () => {
    const b = new GraphBuilder();
    const rnd = lcg(5);
    const x = b.input('image', [-1, 8, 8, 3]);
    const c = b.op('head/conv', 'Conv2D', [x, b.rand('head/w', [3, 3, 3, 4], rnd)], {
      padding: 'SAME',
      strides: [1, 1, 1, 1],
      dilations: [1, 1, 1, 1],
      data_format: 'NHWC',
    });
    const y = b.op('head/atan2', 'Atan2', [c, b.const('head/k', [], [0.5])]);
    const file = writeModelJson(mkdtempSync(join(tmpdir(), 'vigil-onnx-unsupported-')), b.graph());
    const m = {
      name: 'atan-net',
      package: 'vigil',
      path: relative(PROJECT_ROOT, file),
      format: 'tfjs-graph' as const,
      input: [8, 8, 3] as [number, number, number],
      outputs: [y],
    };
    const tfjs = await createTfjsEngine('cpu');
    const { model, report } = await chooseEngine({
      manifest: m,
      task: 'detect',
      requested: 'onnx',
      tfjs,
      onnx: () => createOnnxEngine({ intraOpThreads: 1, executionProviders: ['cpu'], cacheDir }),
      check: async () => {
        throw new Error('not reached');
      },
      timingInput: { data: new Float32Array(8 * 8 * 3), shape: [1, 8, 8, 3] },
    });
    expect(report.engine).toBe('tfjs');
    expect(report.fallback?.reason).toBe('conversion');
    expect(report.fallback?.message).toBe('unsupported op "Atan2" at node "head/atan2"');
    const [out] = await model.run({ data: new Float32Array(2 * 8 * 8 * 3).fill(0.5), shape: [2, 8, 8, 3] });
    expect(out?.shape).toEqual([2, 8, 8, 4]);
    model.dispose();
  }, 60_000);

  it('the service keeps running on tfjs; /metrics shows the fallback and each model engine', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'vigil-onnx-svc-'));
    const dir = join(dataDir, 'onnx');
    writeFileSync(convertCached(manifest('blazeface'), dir).path, Buffer.from([1, 2, 3, 4]));
    const vigil = await Vigil.start(
      validateConfig({
        server: { host: '127.0.0.1', port: 0 },
        log: { level: 'silent' },
        pipeline: 'recognize',
        dataDir,
        inference: { backend: 'wasm', engine: 'auto' },
        streams: [
          { id: 'cam', lavfi: 'testsrc2=size=320x180:rate=5', width: 320, height: 180, detectFps: 2 },
        ],
      }),
    );
    try {
      const base = `http://127.0.0.1:${vigil.address.port}`;
      let text = '';
      for (let i = 0; i < 40; i++) {
        text = await (await fetch(`${base}/metrics`)).text();
        if (/vigil_frames_processed_total\{stream="cam"\} [1-9]/.test(text)) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      expect(text).toMatch(/vigil_frames_processed_total\{stream="cam"\} [1-9]/);
      expect(text).toContain('vigil_inference_engine_fallbacks_total{model="blazeface"} 1');
      expect(text).toContain(
        'vigil_inference_model_engine_info{model="blazeface",engine="tfjs",backend="wasm"} 1',
      );
      expect(text).toContain(
        `vigil_inference_model_engine_info{model="${rec.model}",engine="onnx",backend="cpu"} 1`,
      );
      expect(text).toContain(`vigil_inference_onnx_equivalent{model="${rec.model}"} 1`);
      expect(text).toMatch(
        new RegExp(`vigil_inference_engine_startup_seconds\\{model="${rec.model}",engine="tfjs"\\} 0\\.\\d+`),
      );
    } finally {
      await vigil.stop();
    }
  }, 120_000);
});
