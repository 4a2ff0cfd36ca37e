import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DETECTOR } from '../../src/faces/detect/blazeface.js';
import type { Detection } from '../../src/inference/contract.js';
import { detectTask } from '../../src/faces/tasks/index.js';
import { InferenceHost } from '../../src/inference/host.js';
import { rgbFrame, samplePhoto } from '../helpers/images.js';

// The real BlazeFace model from @vladmandic/human, in a real worker thread on the wasm backend.
describe('BlazeFace in the inference worker', () => {
  let host: InferenceHost;
  beforeAll(async () => {
    host = new InferenceHost({
      workers: 1,
      backend: 'wasm',
      tasks: [detectTask({ model: 'blazeface', options: DEFAULT_DETECTOR })],
    });
    await host.start();
  });
  afterAll(() => host?.close());

  it('runs on the wasm backend', () => {
    expect(host.engine).toBe('tfjs');
    expect(host.backend).toBe('wasm');
  });

  it('finds faces in real photos, inside the frame, with keypoints inside their box', async () => {
    const frame = await rgbFrame(samplePhoto(1), 640, 360);
    const r = await host.run('detect', [frame]);
    const dets = r.result[0] as Detection[];
    expect(dets.length).toBeGreaterThanOrEqual(1);
    for (const d of dets) {
      expect(d.score).toBeGreaterThanOrEqual(DEFAULT_DETECTOR.minScore);
      const [x1, y1, x2, y2] = d.box;
      expect(x1).toBeGreaterThanOrEqual(0);
      expect(y1).toBeGreaterThanOrEqual(0);
      expect(x2).toBeLessThanOrEqual(640);
      expect(y2).toBeLessThanOrEqual(360);
      expect(x2 - x1).toBeGreaterThan(8);
      const [ex, ey] = d.landmarks[0] as [number, number]; // right eye
      expect(ex).toBeGreaterThan(x1 - 2);
      expect(ex).toBeLessThan(x2 + 2);
      expect(ey).toBeGreaterThan(y1 - 2);
      expect(ey).toBeLessThan(y2 + 2);
    }
  });

  it('finds nothing in a blank frame', async () => {
    const r = await host.run('detect', [
      { width: 320, height: 180, pixels: new Uint8Array(320 * 180 * 3).fill(128) },
    ]);
    expect(r.result).toEqual([[]]);
  });

  it('a batch gives the same detections as one frame at a time, routed to the right frame', async () => {
    const frames = await Promise.all([1, 2, 3].map((n) => rgbFrame(samplePhoto(n), 640, 360)));
    frames.push({ width: 320, height: 180, pixels: new Uint8Array(320 * 180 * 3) }); // a different size in the same batch
    const batched = await host.run('detect', frames);
    expect(batched.result).toHaveLength(4);
    for (let i = 0; i < frames.length; i++) {
      const single = (await host.run('detect', [frames[i] as (typeof frames)[number]]))
        .result[0] as Detection[];
      const b = batched.result[i] as Detection[];
      expect(b.length).toBe(single.length);
      b.forEach((d, k) => {
        const s = single[k] as Detection;
        expect(d.score).toBeCloseTo(s.score, 3);
        for (const [j, v] of d.box.entries()) expect(Math.abs(v - (s.box[j] as number))).toBeLessThan(0.5);
      });
    }
    expect(batched.result[3]).toEqual([]);
  });

  it('does not leak tensors across batches', async () => {
    const frame = await rgbFrame(samplePhoto(2), 640, 360);
    const first = await host.run('detect', [frame, frame]);
    let last = first;
    for (let i = 0; i < 5; i++) last = await host.run('detect', [frame, frame, frame]);
    expect(last.tensors).toBe(first.tensors);
  });
});
