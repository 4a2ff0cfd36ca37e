/**
 * Style worker (worker_threads): its own single-threaded tfjs backend, styles loaded on first use.
 * With `engine` auto or onnx, a style's graph (model.json) is converted to ONNX (src/inference/onnx)
 * and run by ONNX Runtime when its output matches tfjs within one 8-bit level on a probe frame (and,
 * for auto, when it is faster); otherwise tfjs runs it and the host is told why.
 */
import { join } from 'node:path';
import { parentPort } from 'node:worker_threads';
import type * as tfTypes from '@tensorflow/tfjs-core';
import type { LoadedModel } from '../inference/contract.js';
import { convertFile } from '../inference/onnx/cache.js';
import { createOnnxEngine, type OnnxEngine } from '../inference/onnx/engine.js';
import { TOLERANCE } from '../inference/onnx/verify.js';
import { exitWorker } from '../inference/worker-close.js';
import { createTfjsEngine } from '../inference/tfjs-engine.js';
import { STYLE_OUTPUT } from './graph.js';
import type { FromStyleWorker, StyleEngineReport, ToStyleWorker } from './host.js';
import { StyleRunner } from './runner.js';
import { loadStyleDir, type StoredStyle } from './store.js';

const port = parentPort;
if (!port) throw new Error('style worker must run in a worker thread');

let tf: typeof tfTypes | undefined;
let init: Extract<ToStyleWorker, { type: 'init' }> | undefined;
let ready: Promise<void> | undefined;
let ort: Promise<OnnxEngine> | undefined;
/** Per style folder: the stored style, and the ONNX model when ORT runs it. */
const styles = new Map<string, Promise<{ style: StoredStyle; onnx?: LoadedModel }>>();
/** One runner per (style, smoothing key): smoothing keeps the previous frame of one stream. */
const runners = new Map<string, StyleRunner>();

/** Frames in flight (close waits for them). */
const running = new Set<Promise<void>>();

const send = (m: FromStyleWorker, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

/** A probe frame (gradients and edges) for the equivalence check and the timing. */
function probe(w: number, h: number): Float32Array {
  const px = new Float32Array(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      px[i] = (x * 255) / w;
      px[i + 1] = (y * 255) / h;
      px[i + 2] = ((x >> 3) + (y >> 3)) % 2 ? 220 : 30;
    }
  return px;
}

async function timeIt(f: () => Promise<unknown> | unknown, n = 3): Promise<number> {
  await f();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await f();
  return (performance.now() - t0) / n;
}

/** Chooses the engine of one style: ONNX Runtime when converted, equivalent and (auto) faster. */
async function load(dir: string): Promise<{ style: StoredStyle; onnx?: LoadedModel }> {
  const t = tf as typeof tfTypes;
  const style = loadStyleDir(dir);
  const choice = init?.engine ?? 'tfjs';
  const report: StyleEngineReport = { style: style.manifest.name, engine: 'tfjs', requested: choice };
  if (choice === 'tfjs' || !init?.onnx) {
    send({ type: 'engine', report });
    return { style };
  }
  try {
    ort ??= createOnnxEngine({ ...init.onnx, workers: init.workers });
    const engine = await ort;
    const conv = convertFile(join(dir, 'model.json'), {
      outputs: [STYLE_OUTPUT],
      name: `style-${style.manifest.name}`,
    });
    const model = await engine.loadBytes(`style-${style.manifest.name}`, conv.bytes, [STYLE_OUTPUT]);
    const [w, h] = [96, 64];
    const input = { data: probe(w, h), shape: [1, h, w, 3] };
    const runner = new StyleRunner(t, style);
    try {
      const x = t.tensor4d(input.data, [1, h, w, 3]);
      const want = runner.net(x);
      const ref = want.dataSync() as Float32Array;
      t.dispose([x, want]);
      const [got] = await model.run(input);
      let maxAbs = got && got.data.length === ref.length ? 0 : Number.POSITIVE_INFINITY;
      for (let i = 0; i < ref.length && got; i++) {
        const d = Math.abs((ref[i] as number) - (got.data[i] as number));
        maxAbs = Number.isNaN(d) ? Number.POSITIVE_INFINITY : Math.max(maxAbs, d);
      }
      report.maxAbs255 = maxAbs;
      const big = { data: probe(256, 144), shape: [1, 144, 256, 3] };
      const xb = t.tensor4d(big.data, [1, 144, 256, 3]);
      report.timings = {
        tfjs: await timeIt(() => runner.net(xb).dispose()),
        onnx: await timeIt(() => model.run(big)),
      };
      xb.dispose();
    } finally {
      runner.dispose();
    }
    const maxAbs = report.maxAbs255 ?? Number.POSITIVE_INFINITY;
    if (maxAbs > TOLERANCE.maxAbs255) {
      report.reason = `ONNX output differs from tfjs by ${maxAbs.toFixed(3)} (tolerance ${TOLERANCE.maxAbs255} on 0..255)`;
    } else if (choice === 'auto' && report.timings.onnx >= report.timings.tfjs) {
      report.reason = 'tfjs was faster in the start-up timing';
    } else {
      report.engine = 'onnx';
      report.backend = engine.backend;
      send({ type: 'engine', report });
      return { style, onnx: model };
    }
    model.dispose();
  } catch (e) {
    report.reason = (e as Error).message;
    report.fallback = true;
  }
  if (report.reason && choice === 'onnx') report.fallback = true;
  send({ type: 'engine', report });
  return { style };
}

port.on('message', async (m: ToStyleWorker) => {
  if (m.type === 'close') {
    // finish the frames in flight and release the ONNX sessions before the thread ends
    await exitWorker(async () => {
      await ready;
      while (running.size) await Promise.allSettled([...running]);
      const engine = await ort?.catch(() => undefined);
      await engine?.close();
    });
    return;
  }
  if (m.type === 'init') {
    init = m;
    ready = (async () => {
      const engine = await createTfjsEngine(m.backend);
      tf = (await import('@tensorflow/tfjs-core')) as typeof tfTypes;
      send({ type: 'ready', backend: engine.backend });
    })().catch((e) => send({ type: 'init-error', message: (e as Error).message }));
    return;
  }
  if (m.type !== 'run') return;
  let finished = () => {};
  const job = new Promise<void>((r) => {
    finished = r;
  });
  running.add(job);
  try {
    await ready;
    if (!tf) throw new Error('style worker not initialised');
    let loaded = styles.get(m.dir);
    if (!loaded) {
      loaded = load(m.dir);
      styles.set(m.dir, loaded); // a failed load stays failed: later frames fail at once
    }
    const { style, onnx } = await loaded;
    const key = `${m.dir}|${m.smoothingKey}`;
    let r = runners.get(key);
    if (!r) {
      r = new StyleRunner(tf, style);
      runners.set(key, r);
    }
    const t0 = performance.now();
    const px = new Uint8Array(m.pixels);
    const opts = { smoothing: m.smoothing };
    const out = onnx
      ? await r.runWith(
          async (x) => (await onnx.run(x))[0] as { data: Float32Array; shape: number[] },
          px,
          m.width,
          m.height,
          opts,
        )
      : r.run(px, m.width, m.height, opts);
    send({ type: 'result', id: m.id, ms: performance.now() - t0, pixels: out.buffer as ArrayBuffer }, [
      out.buffer as ArrayBuffer,
    ]);
  } catch (e) {
    send({ type: 'error', id: m.id, message: (e as Error).message });
  } finally {
    running.delete(job);
    finished();
  }
});
