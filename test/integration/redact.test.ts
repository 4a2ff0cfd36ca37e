/**
 * The redact stage on a real photo with the real detector: in the JPEG sent to viewers the faces
 * are pixelated and the rest of the frame is as it was; with `faces: unknown` a named face stays.
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InferenceHost } from '../../src/inference/host.js';
import type { FrameHeader } from '../../src/output/ws-hub.js';
import type { TrackedDetection } from '../../src/pipeline/context.js';
import { hides, redactRect } from '../../src/pipeline/stages/redact.js';
import { recognizeSettings, startHost } from '../helpers/faces.js';
import { rgbFrame, samplePhoto } from '../helpers/images.js';
import { runStill } from '../helpers/stage-harness.js';

const W = 640;
const H = 360;

let host: InferenceHost;
let photo: { width: number; height: number; pixels: Uint8Array };

beforeAll(async () => {
  host = await startHost(recognizeSettings().rec);
  photo = await rgbFrame(samplePhoto(1), W, H);
}, 120_000);
afterAll(() => host?.close());

/** Runs `stages` over the photo as a 5 fps stream until a frame with detections is sent; returns it. */
async function sendThrough(stages: unknown[]): Promise<{ header: FrameHeader; rgb: Uint8Array }> {
  const { sent } = await runStill({
    host,
    pipeline: 'redact-test',
    stages,
    pixels: photo.pixels,
    width: W,
    height: H,
    frames: 50,
    until: (sent) => sent.some((s) => s.header.detections.length),
  });
  const hit = sent.find((s) => s.header.detections.length);
  if (!hit) throw new Error('no frame with detections was sent');
  const { data } = await sharp(hit.jpeg).raw().toBuffer({ resolveWithObject: true });
  return { header: hit.header, rgb: new Uint8Array(data) };
}

/** Mean absolute difference to the original photo inside, and outside, the given rectangles. */
function diffInOut(rgb: Uint8Array, rects: Array<[number, number, number, number]>, margin: number) {
  const inside = (x: number, y: number, m: number) =>
    rects.some(([x1, y1, x2, y2]) => x >= x1 - m && x < x2 + m && y >= y1 - m && y < y2 + m);
  let din = 0;
  let nin = 0;
  let dout = 0;
  let nout = 0;
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const o = (y * W + x) * 3;
      let d = 0;
      for (let k = 0; k < 3; k++) d += Math.abs((rgb[o + k] as number) - (photo.pixels[o + k] as number));
      if (inside(x, y, 0)) {
        din += d / 3;
        nin++;
      } else if (!inside(x, y, margin)) {
        dout += d / 3;
        nout++;
      }
    }
  return { inside: din / nin, outside: dout / nout, insidePixels: nin };
}

describe('redact stage (real BlazeFace, real JPEG)', () => {
  it('pixelates every face in the sent JPEG and leaves the rest of the frame as it was', async () => {
    const plain = await sendThrough([{ detect: {} }, { encode: {} }]);
    const red = await sendThrough([
      { detect: {} },
      { redact: { faces: 'all', blockPx: 12 } },
      { encode: {} },
    ]);
    const dets = red.header.detections as TrackedDetection[];
    expect(dets.length).toBeGreaterThan(0);
    const rects = dets
      .map((d) => redactRect(d.box, W, H, 0.15))
      .filter((r): r is [number, number, number, number] => r !== null);
    const before = diffInOut(plain.rgb, rects, 8);
    const after = diffInOut(red.rgb, rects, 8);
    console.log(
      `redact: ${dets.length} faces, ${after.insidePixels} px hidden; mean |diff| inside ${before.inside.toFixed(1)} -> ${after.inside.toFixed(1)}, outside ${before.outside.toFixed(2)} -> ${after.outside.toFixed(2)}`,
    );
    // JPEG alone changes a face by a few levels; pixelation by far more
    expect(after.inside).toBeGreaterThan(Math.max(8, 3 * before.inside));
    // outside the faces (8 px away from them, past JPEG's 8x8 blocks) the frame is as without redact
    expect(Math.abs(after.outside - before.outside)).toBeLessThan(0.5);
  }, 120_000);

  it('faces: unknown keeps a named face; except keeps only the listed people', () => {
    const named: TrackedDetection = {
      box: [0, 0, 10, 10],
      score: 1,
      landmarks: [],
      label: 'anna',
      personId: 3,
    };
    const stranger: TrackedDetection = {
      box: [0, 0, 10, 10],
      score: 1,
      landmarks: [],
      label: 'unknown',
      personId: null,
    };
    const pending: TrackedDetection = { box: [0, 0, 10, 10], score: 1, landmarks: [], trackId: 4 };
    const unknownMode = {
      faces: 'unknown',
      keep: [],
      effect: 'pixelate',
      blockPx: 12,
      padding: 0.15,
    } as const;
    expect([named, stranger, pending].map((d) => hides(unknownMode, d))).toEqual([false, true, true]);
    const except = { ...unknownMode, faces: 'except', keep: ['bob'] } as const;
    expect(hides(except, named)).toBe(true);
    expect(hides({ ...except, keep: ['anna'] }, named)).toBe(false);
    expect(redactRect([-5, -5, 3, 3], W, H, 0)).toEqual([0, 0, 3, 3]);
    expect(redactRect([700, 10, 720, 20], W, H, 0)).toBeNull();
  });
});
