import { parentPort } from 'node:worker_threads';
import { alignTransform, boxTransform, RGB_255, warpInto } from '../faces/align.js';
import { blazefaceAnchors, type DetectorOptions, decodeBlazeface, nms } from '../faces/detect/blazeface.js';
import type {
  Detection,
  InferenceEngine,
  LoadedModel,
  ModelManifest,
  SimilarityMatrix,
  TensorData,
} from './contract.js';
import { manifest } from './model-loader.js';
import { createOnnxEngine, type OnnxEngine } from './onnx/engine.js';
import { chooseEngine, fileDecisions } from './onnx/select.js';
import { compareDetections, compareEmbeddings, type Equivalence } from './onnx/verify.js';
import { type Letterbox, letterboxInto, type Rect, tileRects } from './preprocess.js';
import type {
  EmbeddedFace,
  EngineChoice,
  FramePayload,
  FromWorker,
  ModelEngineReport,
  ToWorker,
} from './protocol.js';
import { createTfjsEngine } from './tfjs-engine.js';
import { exitWorker } from './worker-close.js';
import { applyHeadFlat, checkHeadBase, type Head, loadHead } from '../faces/learn/head.js';
import { spaceVersion } from '../faces/thresholds.js';

/** Inference worker: one single-threaded backend; tasks run one batch at a time. */
const port = parentPort;
if (!port) throw new Error('worker.ts must run in a worker thread');

let engine: InferenceEngine;
let detector:
  | { model: LoadedModel; size: number; anchors: Float32Array; options: DetectorOptions; tiles: number }
  | undefined;
let embedder:
  | { model: LoadedModel; m: ModelManifest; size: number; dim: number; align: boolean; context: number }
  | undefined;
interface WorkerGallery {
  version: number;
  matrix: SimilarityMatrix;
  /** Requests using it; a replaced gallery is disposed when the last one finishes. */
  users: number;
  retired: boolean;
}
let gallery: WorkerGallery | undefined;
let head: Head | undefined;
const release = (g: WorkerGallery | undefined) => {
  if (!g) return;
  g.users--;
  if (g.retired && g.users === 0) g.matrix.dispose();
};
/** Batches in flight (close waits for them). */
const running = new Set<Promise<void>>();
/** Messages that need the engine wait for initialisation. */
let initDone: Promise<void> = Promise.resolve();

const send = (m: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

type InitMsg = Extract<ToWorker, { type: 'init' }>;

/**
 * Loads a model on its engine: tfjs when no engine settings are given, else the configured choice
 * (see onnx/select.ts); `check` compares both engines on the probe photo.
 */
async function loadModel(
  msg: InitMsg,
  m: ModelManifest,
  task: ModelEngineReport['task'],
  check: (ref: LoadedModel, cand: LoadedModel) => Promise<Equivalence>,
  reports: ModelEngineReport[],
): Promise<LoadedModel> {
  const es = msg.engines;
  if (!es) return engine.load(m);
  const requested: EngineChoice = es.models[m.name] ?? es.engine;
  const size = m.input[0];
  const { model, report } = await chooseEngine({
    manifest: m,
    task,
    requested,
    resolved: es.resolved?.[m.name],
    tfjs: engine,
    onnx: () => {
      onnxEngine ??= createOnnxEngine({ ...es.onnx, workers: msg.workers ?? 1 });
      return onnxEngine;
    },
    check,
    decisions: fileDecisions(es.onnx.cacheDir),
    timingInput: { data: new Float32Array(size * m.input[1] * m.input[2]), shape: [1, ...m.input] },
  });
  reports.push(report);
  return model;
}
let onnxEngine: Promise<OnnxEngine> | undefined;

/** The probe photo, or a synthetic gradient when the host sent none. */
function probeFrames(msg: InitMsg): { frames: FramePayload[]; label: string } {
  if (msg.probe) return { frames: [msg.probe], label: 'a sample photo' };
  const w = 320;
  const h = 240;
  const px = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) {
    px[i * 3] = (i % w) * 0.8;
    px[i * 3 + 1] = Math.floor(i / w);
    px[i * 3 + 2] = 128;
  }
  return { frames: [{ width: w, height: h, pixels: px.buffer }], label: 'a synthetic gradient' };
}

async function init(msg: InitMsg): Promise<void> {
  const t0 = performance.now();
  engine = await createTfjsEngine(msg.backend);
  const reports: ModelEngineReport[] = [];
  const probe = probeFrames(msg);
  if (msg.tasks.detect) {
    const m = manifest(msg.tasks.detect.model);
    const size = m.input[0];
    const spec = {
      size,
      anchors: blazefaceAnchors(size),
      options: msg.tasks.detect.options,
      tiles: msg.tasks.detect.tiles ?? 1,
    };
    const model = await loadModel(
      msg,
      m,
      'detect',
      async (ref, cand) =>
        compareDetections(
          await detectWith({ ...spec, model: ref }, probe.frames),
          await detectWith({ ...spec, model: cand }, probe.frames),
          probe.label,
        ),
      reports,
    );
    detector = { ...spec, model };
    // Warm-up: the first call compiles kernels; do it before real frames arrive.
    await detector.model.run({ data: new Float32Array(size * size * 3), shape: [1, size, size, 3] });
  }
  if (msg.tasks.embed) {
    const m = manifest(msg.tasks.embed.model);
    const size = m.input[0];
    const spec = {
      m,
      size,
      dim: m.dim ?? 0,
      align: msg.tasks.embed.align,
      context: msg.tasks.embed.context ?? m.context ?? 1.6,
    };
    const model = await loadModel(
      msg,
      m,
      'embed',
      async (ref, cand) => {
        // real face crops: the faces the detector finds in the probe photo (else its centre)
        const frame = probe.frames[0] as FramePayload;
        let faces = detector ? ((await detectWith(detector, probe.frames))[0] ?? []).slice(0, 4) : [];
        if (!faces.length) {
          const s = Math.min(frame.width, frame.height) / 2;
          const cx = frame.width / 2;
          const cy = frame.height / 2;
          faces = [{ box: [cx - s / 2, cy - s / 2, cx + s / 2, cy + s / 2], score: 1, landmarks: [] }];
        }
        const input = cropFaces(
          { ...spec, model: ref },
          probe.frames,
          faces.map((f) => ({ frame: 0, box: f.box, landmarks: f.landmarks })),
        );
        const [a] = await ref.run(input);
        const [b] = await cand.run(input);
        if (!a || !b) throw new Error('no embedding output');
        return compareEmbeddings(
          a.data,
          b.data,
          faces.length,
          `${faces.length} face crop(s) of ${probe.label}`,
        );
      },
      reports,
    );
    embedder = { ...spec, model };
    const out = await embedder.model.run({
      data: new Float32Array(size * size * 3),
      shape: [1, size, size, 3],
    });
    embedder.dim = out[0]?.shape[1] ?? embedder.dim;
    const headName = msg.tasks.embed.head;
    if (headName) {
      // A trained projection head on top of the frozen embedding (vigil learn triplet).
      const h = loadHead(headName);
      checkHeadBase(h, m.name, spaceVersion(embedder.align, embedder.context), embedder.dim);
      head = h;
    }
  }
  send({
    type: 'ready',
    engine: engine.engine,
    backend: engine.backend,
    warmupMs: performance.now() - t0,
    embedDim: head ? head.manifest.outDim : embedder?.dim,
    models: msg.engines ? reports : undefined,
  });
}

async function detect(frames: FramePayload[]): Promise<Detection[][]> {
  if (!detector) throw new Error('detect task not initialised');
  return detectWith(detector, frames);
}

async function detectWith(d: NonNullable<typeof detector>, frames: FramePayload[]): Promise<Detection[][]> {
  const { size } = d;
  const per = size * size * 3;
  // Each frame becomes one input (whole frame) or several (tiles); all of them go in one batch.
  const jobs: Array<{ frame: number; rect: Rect }> = [];
  frames.forEach((f, i) => {
    for (const rect of tileRects(f.width, f.height, d.tiles)) jobs.push({ frame: i, rect });
  });
  const batch = new Float32Array(per * jobs.length);
  const boxes: Letterbox[] = jobs.map((j, k) => {
    const f = frames[j.frame] as FramePayload;
    return letterboxInto(
      new Uint8Array(f.pixels),
      f.width,
      f.height,
      size,
      batch,
      k * per,
      1 / 127.5,
      -1,
      d.tiles > 1 ? j.rect : undefined,
    );
  });
  const outs = await d.model.run({ data: batch, shape: [jobs.length, size, size, 3] });
  const perFrame: Detection[][] = frames.map(() => []);
  jobs.forEach((j, k) => {
    const f = frames[j.frame] as FramePayload;
    perFrame[j.frame]?.push(...decodeBlazeface(outs, k, d.anchors, boxes[k] as Letterbox, f, d.options));
  });
  return d.tiles > 1
    ? perFrame.map((dets) => nms(dets, d.options.iouThreshold, d.options.maxFaces))
    : perFrame;
}

async function embed(
  msg: Extract<ToWorker, { type: 'run'; task: 'embed' }>,
): Promise<{ faces: EmbeddedFace[]; version: number | undefined }> {
  const e = embedder;
  // One gallery for the whole request: a swap while the model runs must not mix versions.
  const g = gallery;
  if (g) g.users++;
  try {
    return await embedWith(e, g, msg);
  } finally {
    release(g);
  }
}

async function embedWith(
  e: typeof embedder,
  g: WorkerGallery | undefined,
  msg: Extract<ToWorker, { type: 'run'; task: 'embed' }>,
): Promise<{ faces: EmbeddedFace[]; version: number | undefined }> {
  if (!e) throw new Error('embed task not initialised');
  if (!msg.faces.length) return { faces: [], version: g?.version };
  const { dim } = e;
  const [out] = await e.model.run(cropFaces(e, msg.frames, msg.faces));
  if (!out) throw new Error('embedding model returned nothing');
  const n = msg.faces.length;
  const embs = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    let norm = 0;
    for (let j = 0; j < dim; j++) norm += (out.data[i * dim + j] as number) ** 2;
    const inv = 1 / Math.max(Math.sqrt(norm), 1e-12);
    for (let j = 0; j < dim; j++) embs[i * dim + j] = (out.data[i * dim + j] as number) * inv;
  }
  // With a head, vectors live in the head's space (L2-normalised again by the head).
  const final = head ? applyHeadFlat(head, embs, n) : embs;
  const outDim = head ? head.manifest.outDim : dim;
  let top: { indices: Int32Array; values: Float32Array } | undefined;
  let k = 0;
  if (g && g.matrix.rows > 0 && msg.topK > 0) {
    k = Math.min(msg.topK, g.matrix.rows);
    top = await g.matrix.topK(final, n, k);
  }
  const faces = msg.faces.map((_, i) => ({
    embedding: final.slice(i * outDim, (i + 1) * outDim),
    rows: top ? Array.from(top.indices.subarray(i * k, (i + 1) * k)) : [],
    sims: top ? Array.from(top.values.subarray(i * k, (i + 1) * k)) : [],
  }));
  return { faces, version: g?.version };
}

/** The model input for a batch of faces: each warped (aligned or box crop) in the model's pixel format. */
function cropFaces(
  e: NonNullable<typeof embedder>,
  frames: FramePayload[],
  faces: Array<{ frame: number; box: Detection['box']; landmarks: Detection['landmarks'] }>,
): TensorData {
  const { size } = e;
  const per = size * size * 3;
  const batch = new Float32Array(per * faces.length);
  const fmt = e.m.pixels ?? RGB_255;
  faces.forEach((face, i) => {
    const f = frames[face.frame];
    if (!f) throw new Error(`face ${i} refers to frame ${face.frame}, not in the batch`);
    const t =
      e.align && face.landmarks.length >= 4
        ? alignTransform(face.landmarks, size, e.context)
        : boxTransform(face.box, size, e.context);
    warpInto(new Uint8Array(f.pixels), f.width, f.height, t, size, batch, i * per, fmt);
  });
  return { data: batch, shape: [faces.length, size, size, 3] };
}

port.on('message', (msg: ToWorker) => {
  if (msg.type === 'init') {
    initDone = init(msg).catch((e: Error) => send({ type: 'init-error', message: e.message }));
  } else if (msg.type === 'gallery') {
    initDone = initDone.then(() => {
      const old = gallery;
      gallery =
        msg.rows > 0
          ? {
              version: msg.version,
              matrix: engine.matrix(msg.data, msg.rows, msg.dim),
              users: 0,
              retired: false,
            }
          : undefined;
      if (old) {
        old.retired = true;
        if (old.users === 0) old.matrix.dispose();
      }
    });
  } else if (msg.type === 'close') {
    // finish initialisation and the batch in flight, release the ONNX sessions, then end the thread
    void exitWorker(async () => {
      await initDone;
      await Promise.allSettled([...running]);
      const ort = await onnxEngine?.catch(() => undefined);
      await ort?.close();
    });
  } else if (msg.type === 'crash') {
    // Fault injection for tests: an uncaught error kills this worker.
    setImmediate(() => {
      throw new Error('worker crash requested');
    });
  } else if (msg.type === 'run') {
    const t0 = performance.now();
    const job = (async () => {
      await initDone;
      if (msg.debugDelayMs) await new Promise((r) => setTimeout(r, msg.debugDelayMs));
      if (msg.task === 'detect') {
        const detections = await detect(msg.frames);
        send({
          type: 'result',
          id: msg.id,
          detections,
          ms: performance.now() - t0,
          tensors: engine.memory().tensors,
        });
      } else if (msg.task === 'embed') {
        const { faces, version } = await embed(msg);
        send(
          {
            type: 'result',
            id: msg.id,
            faces,
            galleryVersion: version,
            ms: performance.now() - t0,
            tensors: engine.memory().tensors,
          },
          faces.map((f) => f.embedding.buffer as ArrayBuffer),
        );
      } else throw new Error(`unknown task "${(msg as { task: string }).task}"`);
    })().catch((e: Error) => send({ type: 'error', id: msg.id, message: e.message }));
    running.add(job);
    void job.finally(() => running.delete(job));
  }
});
