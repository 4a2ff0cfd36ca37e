/**
 * The worker thread of a style training started from the page (training-jobs.ts): runs trainStyle
 * and reports progress, previews, the end or the error to the main thread. It runs at the lowest
 * CPU priority (nice 19 on its own thread: Linux applies setpriority to a thread id), so the live
 * pipeline's threads always come first, and it obeys a control word shared with the main thread,
 * read between steps: RUN, PAUSE (wait, e.g. while cameras need the CPU) or CANCEL (stop; nothing
 * is written).
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import sharp from 'sharp';
import { CONTROL, type TrainWorkerData, type TrainWorkerMessage } from './train-protocol.js';
import { TRAIN_DEFAULTS, trainStyle } from './train.js';

class Cancelled extends Error {}

/** nice 19 for this thread only: its Linux thread id is the last part of /proc/thread-self. */
function lowerOwnPriority(): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, 19);
  } catch {
    // not Linux: the pause on busy cameras still protects the pipeline
  }
}

const post = (m: TrainWorkerMessage) => parentPort?.postMessage(m);

async function main(d: TrainWorkerData): Promise<void> {
  lowerOwnPriority();
  const control = new Int32Array(d.control);
  let pendingJpeg = Promise.resolve();
  /** Between steps: cancel at once; while paused, wait (and say so once); previews get sent. */
  const obey = async (step: number, loss: number) => {
    await pendingJpeg;
    if (Atomics.load(control, 0) === CONTROL.PAUSE) {
      post({ type: 'progress', step, steps: d.options.steps, loss, paused: true });
      while (Atomics.load(control, 0) === CONTROL.PAUSE) await new Promise((r) => setTimeout(r, 200));
    }
    if (Atomics.load(control, 0) === CONTROL.CANCEL) throw new Cancelled('cancelled');
    post({ type: 'progress', step, steps: d.options.steps, loss, paused: false });
  };
  const { width, height } = d.preview.image;
  try {
    const { dir, manifest } = await trainStyle({
      ...TRAIN_DEFAULTS,
      checkpointEvery: 1e7,
      resume: false,
      backend: 'wasm',
      ...d.options,
      quiet: true,
      log: (message) => post({ type: 'log', message }),
      onStep: (step, l) => obey(step, l.total),
      preview: {
        ...d.preview,
        onPreview: (step, rgb) => {
          pendingJpeg = pendingJpeg.then(async () => {
            const jpeg = await sharp(rgb, { raw: { width, height, channels: 3 } })
              .jpeg({ quality: 80 })
              .toBuffer();
            post({ type: 'preview', step, jpeg: new Uint8Array(jpeg) });
          });
        },
      },
    });
    await pendingJpeg;
    post({ type: 'done', dir, seconds: manifest.training.seconds });
  } catch (e) {
    await pendingJpeg.catch(() => undefined);
    if (e instanceof Cancelled) post({ type: 'cancelled' });
    else post({ type: 'error', message: (e as Error).message });
  }
}

if (parentPort && workerData) void main(workerData as TrainWorkerData);
