import { parentPort } from 'node:worker_threads';
import { blazefaceAnchors, decodeBlazeface, type DetectorOptions } from '../faces/detect/blazeface.js';
import type { InferenceEngine, LoadedModel } from './contract.js';
import { manifest } from './model-loader.js';
import { type Letterbox, letterboxInto } from './preprocess.js';
import type { FromWorker, ToWorker } from './protocol.js';
import { createTfjsEngine } from './tfjs-engine.js';

/** Inference worker: one single-threaded backend, tasks run one batch at a time. */
const port = parentPort;
if (!port) throw new Error('worker.ts must run in a worker thread');

let engine: InferenceEngine;
let detector:
  | { model: LoadedModel; size: number; anchors: Float32Array; options: DetectorOptions }
  | undefined;

const send = (m: FromWorker) => port.postMessage(m);

async function init(msg: Extract<ToWorker, { type: 'init' }>): Promise<void> {
  const t0 = performance.now();
  engine = await createTfjsEngine(msg.backend);
  if (msg.tasks.detect) {
    const m = manifest(msg.tasks.detect.model);
    const size = m.input[0];
    detector = {
      model: await engine.load(m),
      size,
      anchors: blazefaceAnchors(size),
      options: msg.tasks.detect.options,
    };
    // Warm-up: the first call compiles kernels; do it before real frames arrive.
    await detector.model.run({ data: new Float32Array(size * size * 3), shape: [1, size, size, 3] });
  }
  send({ type: 'ready', engine: engine.engine, backend: engine.backend, warmupMs: performance.now() - t0 });
}

async function detect(frames: Extract<ToWorker, { type: 'run' }>['frames']) {
  const d = detector;
  if (!d) throw new Error('detect task not initialised');
  const { size } = d;
  const per = size * size * 3;
  const batch = new Float32Array(per * frames.length);
  const boxes: Letterbox[] = frames.map((f, i) =>
    letterboxInto(new Uint8Array(f.pixels), f.width, f.height, size, batch, i * per),
  );
  const outs = await d.model.run({ data: batch, shape: [frames.length, size, size, 3] });
  return frames.map((f, i) => decodeBlazeface(outs, i, d.anchors, boxes[i] as Letterbox, f, d.options));
}

port.on('message', (msg: ToWorker) => {
  if (msg.type === 'init') {
    init(msg).catch((e: Error) => send({ type: 'init-error', message: e.message }));
  } else if (msg.type === 'crash') {
    // Fault injection for tests: an uncaught error kills this worker.
    setImmediate(() => {
      throw new Error('worker crash requested');
    });
  } else if (msg.type === 'run') {
    const t0 = performance.now();
    (async () => {
      if (msg.debugDelayMs) await new Promise((r) => setTimeout(r, msg.debugDelayMs));
      if (msg.task !== 'detect') throw new Error(`unknown task "${msg.task}"`);
      const detections = await detect(msg.frames);
      send({
        type: 'result',
        id: msg.id,
        detections,
        ms: performance.now() - t0,
        tensors: engine.memory().tensors,
      });
    })().catch((e: Error) => send({ type: 'error', id: msg.id, message: e.message }));
  }
});
