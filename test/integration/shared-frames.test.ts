// Frames cross to the workers without copies. Real photos are cut into frames by the decoder's own
// FrameSplitter (pooled SharedArrayBuffers), then detected, embedded and stylised by one pool of
// real workers (BlazeFace, faceres, a trained style): the main thread copies no frame pixels
// (src/util/frame-copies.ts). A crashed worker fails its request and is restarted; the frames go
// back to the pool once.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DETECTOR } from '../../src/faces/detect/blazeface.js';
import { detectTask, embedDim, embedTask } from '../../src/faces/tasks/index.js';
import { InferenceHost } from '../../src/inference/host.js';
import type { Frame } from '../../src/sources/frame.js';
import { FrameSplitter } from '../../src/sources/frame-splitter.js';
import { StyleHost, styleTask } from '../../src/style/host.js';
import { frameCopies, totalFrameCopies } from '../../src/util/frame-copies.js';
import { PROJECT_ROOT } from '../../src/util/paths.js';
import { rgbFrame, samplePhoto } from '../helpers/images.js';

const W = 640;
const H = 360;
const STYLE = join(PROJECT_ROOT, 'models', 'styles', 'starry-night');

describe('shared frames: detection, embedding and style without main-thread copies', () => {
  let host: InferenceHost;
  let styles: StyleHost;
  let splitter: FrameSplitter;
  const frames: Frame[] = [];

  beforeAll(async () => {
    host = new InferenceHost({
      workers: 1,
      backend: 'wasm',
      tasks: [
        detectTask({ model: 'blazeface', options: DEFAULT_DETECTOR }),
        embedTask({ model: 'faceres', align: false, context: 1.6 }),
        styleTask(),
      ],
      // every request waits a little in the worker: the crash test's request is surely in flight
      debugDelayMs: 100,
    });
    styles = new StyleHost({ pool: host });
    await host.start();
    splitter = new FrameSplitter({ streamId: 'cam', width: W, height: H, poolSize: 4 }, (f) =>
      frames.push(f.retain()),
    );
    // the bytes ffmpeg would write: three photos as RGB24, fed in pipe-sized chunks
    for (const n of [1, 2, 3]) {
      const px = (await rgbFrame(samplePhoto(n), W, H)).pixels;
      for (let o = 0; o < px.length; o += 65536) splitter.push(Buffer.from(px.subarray(o, o + 65536)));
    }
  }, 120_000);
  afterAll(async () => {
    for (const f of frames.splice(0)) f.release();
    await styles?.close();
    await host?.close();
  });

  it('decoded frames sit on SharedArrayBuffers', () => {
    expect(frames).toHaveLength(3);
    for (const f of frames) expect(f.pixels.buffer).toBeInstanceOf(SharedArrayBuffer);
  });

  it('detect, embed and style (two strengths) on the pool, with zero frame copies on the main thread', async () => {
    const before = totalFrameCopies();
    const det = await host.run('detect', frames);
    const faces = det.result.flatMap((ds, i) =>
      ds.slice(0, 2).map((d) => ({ frame: i, box: d.box, landmarks: d.landmarks })),
    );
    expect(faces.length).toBeGreaterThanOrEqual(3);
    // whole frames again: the worker cuts the faces from the shared pixels
    const emb = await host.run('embed', frames, { faces, topK: 0 });
    expect(emb.result.faces).toHaveLength(faces.length);
    for (const f of emb.result.faces) {
      expect(f.embedding).toHaveLength(embedDim(host));
      expect(Math.hypot(...f.embedding)).toBeCloseTo(1, 4);
    }
    const frame = frames[0] as Frame;
    const { pixels } = await styles.stylize(STYLE, frame, { strengths: [1, 0.5], smoothingKey: 'cam' });
    expect(pixels).toHaveLength(2);
    const [full, half] = pixels as [Uint8Array, Uint8Array];
    expect(full).toHaveLength(W * H * 3);
    expect(half).toHaveLength(W * H * 3);
    // the half-strength picture lies between the original and the stylised one, pixel by pixel
    let changed = 0;
    for (let i = 0; i < full.length; i += 97) {
      const o = frame.pixels[i] as number;
      const s = full[i] as number;
      if (s !== o) changed++;
      expect(half[i]).toBe(Math.floor(o * 0.5 + s * 0.5 + 0.5));
    }
    expect(changed).toBeGreaterThan(full.length / 97 / 2);
    expect(totalFrameCopies() - before, JSON.stringify(frameCopies())).toBe(0);
  }, 120_000);

  it('an image that is not shared (an upload) is copied once, and counted', async () => {
    const photo = await rgbFrame(samplePhoto(2), W, H);
    const before = frameCopies().worker_dispatch ?? 0;
    const r = await host.run('detect', [photo]);
    expect(r.result[0]?.length).toBeGreaterThan(0);
    expect((frameCopies().worker_dispatch ?? 0) - before).toBe(1);
  }, 60_000);

  it('a worker crash fails the request in flight; its frames go back to the pool once; the pool recovers', async () => {
    // the request's own references, as a stage holds its frames until the answer
    const held = frames.map((f) => f.retain());
    const inFlight = host.run('embed', held, {
      faces: [{ frame: 0, box: [200, 60, 330, 220], landmarks: [] }],
      topK: 0,
    });
    host.crashWorker(0);
    await expect(inFlight).rejects.toThrow(/exited/);
    for (const f of held) f.release(); // the failed request's drop path
    expect(splitter.buffersInUse).toBe(3); // the test's references still hold them
    for (const f of frames.splice(0)) f.release();
    expect(splitter.buffersInUse).toBe(0);
    expect(() => held[0]?.release()).toThrow(/released twice/);
    // the restarted worker serves the next request
    const deadline = Date.now() + 60_000;
    while (host.idle === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const again = await host.run('detect', [await rgbFrame(samplePhoto(1), W, H)]);
    expect(again.result[0]?.length).toBeGreaterThan(0);
  }, 120_000);
});
