/**
 * Style worker (worker_threads): its own single-threaded tfjs backend, styles loaded on first use.
 * Requests: { id, style, width, height, pixels, smoothingKey, smoothing } -> stylised RGB24.
 */
import { parentPort } from 'node:worker_threads';
import type * as tfTypes from '@tensorflow/tfjs-core';
import { createTfjsEngine } from '../inference/tfjs-engine.js';
import { StyleRunner } from './runner.js';
import { loadStyleDir } from './store.js';
import type { FromStyleWorker, ToStyleWorker } from './host.js';

const port = parentPort;
if (!port) throw new Error('style worker must run in a worker thread');

let tf: typeof tfTypes | undefined;
let ready: Promise<void> | undefined;
/** One runner per (style, smoothing key): smoothing keeps the previous frame of one stream. */
const runners = new Map<string, StyleRunner>();
const failed = new Map<string, string>();

const send = (m: FromStyleWorker, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

port.on('message', async (m: ToStyleWorker) => {
  if (m.type === 'init') {
    ready = (async () => {
      const engine = await createTfjsEngine(m.backend);
      tf = (await import('@tensorflow/tfjs-core')) as typeof tfTypes;
      send({ type: 'ready', backend: engine.backend });
    })().catch((e) => send({ type: 'init-error', message: (e as Error).message }));
    return;
  }
  if (m.type !== 'run') return;
  try {
    await ready;
    if (!tf) throw new Error('style worker not initialised');
    const dir = m.dir;
    const err = failed.get(dir);
    if (err) throw new Error(err);
    const key = `${dir}|${m.smoothingKey}`;
    let r = runners.get(key);
    if (!r) {
      try {
        r = new StyleRunner(tf, loadStyleDir(dir));
      } catch (e) {
        failed.set(dir, (e as Error).message);
        throw e;
      }
      runners.set(key, r);
    }
    const t0 = performance.now();
    const out = r.run(new Uint8Array(m.pixels), m.width, m.height, { smoothing: m.smoothing });
    send({ type: 'result', id: m.id, ms: performance.now() - t0, pixels: out.buffer as ArrayBuffer }, [
      out.buffer as ArrayBuffer,
    ]);
  } catch (e) {
    send({ type: 'error', id: m.id, message: (e as Error).message });
  }
});
