import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DETECTOR } from '../../src/faces/detect/blazeface.js';
import { detectTask } from '../../src/faces/tasks/index.js';
import type { Detection } from '../../src/inference/contract.js';
import { InferenceHost } from '../../src/inference/host.js';
import { type Rect, tileRects } from '../../src/inference/preprocess.js';
import { decodeVideoFrames } from '../../src/sources/video-frames.js';
import { type RgbImage, shared } from '../../src/util/rgb.js';
import { DATA } from '../helpers/faces.js';
import { skipUnless } from '../helpers/requirements.js';
import { sameFace, scoreSmallFaces } from '../helpers/small-face-score.js';
import {
  paste,
  type SmallFaceSet,
  smallFaceSet,
  smallFaceSetMissing,
  sourceFaces,
} from '../helpers/small-face-set.js';

// The CCTV setting (config/example.yaml, streams[].detect): 4 tiles; the default pipelines: the whole frame.
const CCTV_TILES = 4;

function crop(img: RgbImage, r: Rect): RgbImage {
  const pixels = new Uint8Array(r.w * r.h * 3);
  for (let y = 0; y < r.h; y++)
    pixels.set(
      img.pixels.subarray(((r.y + y) * img.width + r.x) * 3, ((r.y + y) * img.width + r.x + r.w) * 3),
      y * r.w * 3,
    );
  return { width: r.w, height: r.h, pixels };
}

// Real BlazeFace in a worker (wasm), on real faces of ../shared scaled to 16-24 px in real scenes.
describe.skipIf(skipUnless(smallFaceSetMissing(), 'small-face detection'))('small faces', () => {
  let host: InferenceHost;
  let set: SmallFaceSet;
  beforeAll(async () => {
    set = await smallFaceSet({
      seed: 7,
      sizes: [[820, 460]],
      framesPerSize: 4,
      facesPerFrame: 8,
      heightRange: [16, 24],
    });
    // one task, two variants (a camera's own settings): 0 = whole frame, 1 = the CCTV tiles
    host = new InferenceHost({
      workers: 1,
      backend: 'wasm',
      tasks: [
        detectTask({
          model: 'blazeface',
          options: DEFAULT_DETECTOR,
          tiles: 1,
          variants: [{ model: 'blazeface', options: DEFAULT_DETECTOR, tiles: CCTV_TILES }],
        }),
      ],
    });
    await host.start();
  }, 300_000);
  afterAll(() => host?.close());

  it('faces 16-24 px tall: tiles find far more than the whole frame, without more false boxes than faces', async () => {
    const frames = set.frames.map((f) => shared(f.image));
    const faces = set.frames.reduce((s, f) => s + f.faces.length, 0);
    expect(faces).toBeGreaterThanOrEqual(24);
    for (const f of set.frames)
      for (const face of f.faces) expect(face.box[3] - face.box[1]).toBeGreaterThanOrEqual(15.5);
    // both variants of every frame in one request, interleaved: each frame goes to its variant
    const both = (
      await host.run('detect', [...frames, ...frames], {
        variant: [...frames.map(() => 0), ...frames.map(() => 1)],
      })
    ).result;
    const whole = scoreSmallFaces(set.frames, both.slice(0, frames.length));
    const tiled = scoreSmallFaces(set.frames, both.slice(frames.length));
    console.log(
      `16-24 px faces: whole frame recall ${whole.recall.toFixed(2)}, tiles ${CCTV_TILES} ${tiled.recall.toFixed(2)} (${tiled.falsePerFrame.toFixed(2)} false/frame)`,
    );
    expect(tiled.recall).toBeGreaterThanOrEqual(Math.max(0.3, 3 * whole.recall));
    expect(tiled.falseBoxes).toBeLessThan(tiled.found);
    // the same as running the variant alone: the request routed each frame
    const alone = (await host.run('detect', frames.slice(0, 1), { variant: [1] })).result[0];
    expect(alone).toEqual(both[frames.length]);
  });

  it('a face on a tile edge is seen cut in one tile and whole in the next, and comes out once', async () => {
    const scene = decodeVideoFrames(`${DATA}/video/short_hamilton_clip.mp4`, {
      fps: 1,
      width: 820,
      height: 460,
      maxFrames: 1,
    })[0] as RgbImage;
    const rects = tileRects(820, 460, CCTV_TILES);
    const [a, b] = rects as [Rect, Rect];
    const edge = a.x + a.w; // tile 0's right edge, inside tile 1
    const plain = new InferenceHost({
      workers: 1,
      backend: 'wasm',
      tasks: [detectTask({ model: 'blazeface', options: DEFAULT_DETECTOR })],
    });
    await plain.start();
    try {
      const src = (await sourceFaces(plain)).find((s) => s.name.endsWith('obama.jpg'));
      if (!src) throw new Error('no face found in facerec_photos/obama/obama.jpg');
      const pixels = new Uint8Array(scene.pixels);
      const h = 40;
      const w = ((src.box[2] - src.box[0]) * h) / (src.box[3] - src.box[1]);
      const cy = a.y + 60;
      const face = await paste(
        pixels,
        scene,
        src,
        [edge - w * 0.7, cy - h / 2, edge + w * 0.3, cy + h / 2],
        1,
      );
      const frame = shared({ width: 820, height: 460, pixels });
      // what the tiled pass sees in the two tiles, as frames of their own
      const inA = ((await plain.run('detect', [crop(frame, a)])).result[0] ?? []).filter(
        (d) => d.box[2] >= a.w - 3,
      );
      const inB = ((await plain.run('detect', [crop(frame, b)])).result[0] ?? []).map(
        (d): Detection => ({ ...d, box: [d.box[0] + b.x, d.box[1] + b.y, d.box[2] + b.x, d.box[3] + b.y] }),
      );
      expect(inA.length).toBeGreaterThanOrEqual(1); // cut by tile 0's edge, still seen
      expect(inB.filter((d) => sameFace(d.box, face))).toHaveLength(1); // whole in tile 1
      const merged = (await host.run('detect', [frame], { variant: [1] })).result[0] ?? [];
      const near = merged.filter(
        (d) => d.box[0] < face[2] && face[0] < d.box[2] && d.box[1] < face[3] && face[1] < d.box[3],
      );
      expect(near).toHaveLength(1);
      expect(sameFace((near[0] as Detection).box, face)).toBe(true);
    } finally {
      await plain.close();
    }
  }, 120_000);
});
