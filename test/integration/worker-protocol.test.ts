// The host <-> worker boundary has one schema (src/inference/protocol.ts), parsed on both sides: a
// message of the wrong shape fails where it arrives, naming the field, and the pool goes on serving.
// Real worker threads (dist/inference/worker.js), real BlazeFace.
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DETECTOR } from '../../src/faces/detect/blazeface.js';
import { detectTask } from '../../src/faces/tasks/index.js';
import { InferenceHost } from '../../src/inference/host.js';
import { FromWorkerSchema, parseMessage, ToWorkerSchema } from '../../src/inference/protocol.js';
import { PROJECT_ROOT } from '../../src/util/paths.js';
import { rgbFrame, samplePhoto } from '../helpers/images.js';

const workerJs = join(PROJECT_ROOT, 'dist', 'inference', 'worker.js');

/** The next message the worker sends. */
const nextMessage = (w: Worker) => new Promise<unknown>((r) => w.once('message', r));

describe('worker messages: one schema, checked on both sides', () => {
  it('a run message keeps its shared pixels (no copy) and a wrong one names the field', () => {
    const pixels = new Uint8Array(new SharedArrayBuffer(4 * 2 * 3));
    const ok = parseMessage(ToWorkerSchema, 'to worker', {
      type: 'run',
      id: 7,
      task: 'detect',
      frames: [{ width: 4, height: 2, pixels }],
      request: { any: 'thing' },
    });
    if (ok instanceof Error) throw ok;
    expect(ok.type === 'run' && ok.frames[0]?.pixels).toBe(pixels);
    const short = parseMessage(ToWorkerSchema, 'to worker', {
      type: 'run',
      id: 7,
      task: 'detect',
      frames: [{ width: 4, height: 3, pixels }],
      request: {},
    });
    expect(short).toBeInstanceOf(Error);
    expect((short as Error).message).toBe(
      'to worker "run": frames.0.pixels: pixels must hold width * height * 3 bytes (RGB24)',
    );
    const unknown = parseMessage(FromWorkerSchema, 'from worker', { type: 'done', id: 1 });
    expect((unknown as Error).message).toMatch(/^from worker "done": type: /);
    const noId = parseMessage(FromWorkerSchema, 'from worker', { type: 'result', ms: 1, tensors: 0 });
    expect((noId as Error).message).toMatch(/^from worker "result": id: /);
  });

  it('a real worker refuses a bad init and a bad run with the reason, and still closes', async () => {
    const w = new Worker(workerJs);
    const exited = new Promise<number>((r) => w.once('exit', r));
    try {
      w.postMessage({ type: 'run', id: 3, task: 'detect', frames: [{ width: 2, height: 2 }], request: {} });
      expect(await nextMessage(w)).toEqual({
        type: 'error',
        id: 3,
        message: 'inference worker: message "run": frames.0.pixels: pixels must be a Uint8Array',
      });
      w.postMessage({ type: 'init', backend: 'warp', modules: [], tasks: [] });
      const m = (await nextMessage(w)) as { type: string; message: string };
      expect(m.type).toBe('init-error');
      expect(m.message).toMatch(/^inference worker: message "init": backend: /);
      w.postMessage({ type: 'close' });
      expect(await exited).toBe(0);
    } finally {
      await w.terminate();
    }
  }, 60_000);
});

describe('the pool after a request of the wrong shape', () => {
  let host: InferenceHost;
  beforeAll(async () => {
    host = new InferenceHost({
      workers: 1,
      backend: 'wasm',
      tasks: [detectTask({ model: 'blazeface', options: DEFAULT_DETECTOR })],
    });
    await host.start();
  }, 120_000);
  afterAll(async () => host?.close());

  it('fails that request naming the field, then detects faces in a real photo', async () => {
    const photo = await rgbFrame(samplePhoto(1), 640, 360);
    const cut = { width: 640, height: 360, pixels: photo.pixels.subarray(0, 1000) };
    await expect(host.run('detect', [cut])).rejects.toThrow(
      'frames.0.pixels: pixels must hold width * height * 3 bytes (RGB24)',
    );
    const { result } = await host.run('detect', [photo]);
    expect(result).toHaveLength(1);
    expect((result as unknown[][])[0]?.length).toBeGreaterThan(0);
  }, 60_000);
});
