import { describe, expect, it } from 'vitest';
import { CUT_EDGE_PX, cutByTile, mergeTiles } from '../../src/faces/detect/tiles.js';
import { frameInputs } from '../../src/faces/tasks/detect-task.js';
import type { Detection } from '../../src/inference/contract.js';
import { type Rect, TILE_OVERLAP, tileRects } from '../../src/inference/preprocess.js';

const det = (box: Detection['box'], score = 0.9): Detection => ({ box, score, landmarks: [] });
const covers = (rects: Rect[], x: number, y: number) =>
  rects.some((r) => x >= r.x && x < r.x + r.w && y >= r.y && y < r.y + r.h);

describe('tile geometry', () => {
  it('n = 1 is the whole frame alone; n > 1 adds the whole frame to the tiles', () => {
    expect(tileRects(820, 460, 1)).toEqual([{ x: 0, y: 0, w: 820, h: 460 }]);
    expect(frameInputs(820, 460, 1)).toEqual([{ x: 0, y: 0, w: 820, h: 460 }]);
    const inputs = frameInputs(820, 460, 3);
    expect(inputs[0]).toEqual({ x: 0, y: 0, w: 820, h: 460 });
    expect(inputs.slice(1)).toEqual(tileRects(820, 460, 3));
  });

  for (const [w, h] of [
    [640, 360],
    [820, 460],
    [1280, 720],
    [360, 640],
    [500, 500],
  ] as const)
    for (const n of [2, 3, 4, 6])
      it(`${w}x${h}, ${n} tiles: inside the frame, covering every pixel, smaller with more tiles, overlapping`, () => {
        const rects = tileRects(w, h, n);
        for (const r of rects) {
          expect(r.x).toBeGreaterThanOrEqual(0);
          expect(r.y).toBeGreaterThanOrEqual(0);
          expect(r.x + r.w).toBeLessThanOrEqual(w);
          expect(r.y + r.h).toBeLessThanOrEqual(h);
        }
        for (let y = 0; y < h; y += 7) for (let x = 0; x < w; x += 7) expect(covers(rects, x, y)).toBe(true);
        expect(covers(rects, w - 1, h - 1)).toBe(true);
        // n columns along the long side
        const side = Math.max(...rects.map((r) => Math.max(r.w, r.h)));
        expect(side).toBeLessThan(Math.max(...tileRects(w, h, n - 1).map((r) => Math.max(r.w, r.h))) + 1);
        expect(new Set(rects.map((r) => (w >= h ? r.x : r.y))).size).toBe(n);
        // neighbours overlap by at least TILE_OVERLAP of a tile (minus rounding): a face that small
        // lies whole inside one tile wherever it is
        const starts = [...new Set(rects.map((r) => r.x))].sort((a, b) => a - b);
        for (let i = 1; i < starts.length; i++)
          expect(
            (starts[i - 1] as number) + (rects[0] as Rect).w - (starts[i] as number),
          ).toBeGreaterThanOrEqual(Math.floor((rects[0] as Rect).w * TILE_OVERLAP) - 1);
      });

  it('a face up to the overlap lies whole inside some tile, wherever it is', () => {
    const rects = tileRects(820, 460, 4);
    const face = Math.floor((rects[0] as Rect).w * TILE_OVERLAP) - 2;
    for (let y = 0; y + face <= 460; y += 5)
      for (let x = 0; x + face <= 820; x += 5)
        expect(
          rects.some((r) => x >= r.x && y >= r.y && x + face <= r.x + r.w && y + face <= r.y + r.h),
        ).toBe(true);
  });
});

describe('tile merge', () => {
  const frame = { width: 820, height: 460 };
  const left: Rect = { x: 0, y: 0, w: 300, h: 300 };
  const right: Rect = { x: 220, y: 0, w: 300, h: 300 };

  it('a box on an inner tile edge is cut; on a frame edge it is not', () => {
    expect(cutByTile([280, 50, 300, 70], left, frame)).toBe(true);
    expect(cutByTile([280 - CUT_EDGE_PX - 1, 50, 300 - CUT_EDGE_PX - 1, 70], left, frame)).toBe(false);
    expect(cutByTile([0, 0, 20, 20], left, frame)).toBe(false); // the frame's own corner
    expect(cutByTile([220, 50, 240, 70], right, frame)).toBe(true);
  });

  it('a face on a tile edge comes out once: the whole box wins over the cut one, even with a lower score', () => {
    const whole = det([285, 100, 305, 120], 0.7); // inside the right tile
    const cut = det([285, 100, 300, 120], 0.95); // cut by the left tile's right edge
    const merged = mergeTiles(
      [
        { rect: left, detections: [cut] },
        { rect: right, detections: [whole] },
      ],
      frame,
      0.3,
      50,
    );
    expect(merged).toEqual([whole]);
  });

  it('a box mostly inside a kept one is the same face whatever the IoU; apart faces all stay', () => {
    const big = det([100, 100, 160, 160], 0.9);
    const part = det([100, 100, 125, 160], 0.8); // IoU 0.42 but inside big
    const other = det([400, 100, 420, 120], 0.6);
    const merged = mergeTiles(
      [
        { rect: { x: 0, y: 0, w: 820, h: 460 }, detections: [big, other] },
        { rect: left, detections: [part] },
      ],
      frame,
      0.5,
      50,
    );
    expect(merged).toEqual([big, other]);
  });

  it('keeps at most maxFaces, best first', () => {
    const dets = Array.from({ length: 10 }, (_, i) => det([i * 40, 10, i * 40 + 20, 30], 0.5 + i / 100));
    const merged = mergeTiles([{ rect: { x: 0, y: 0, w: 820, h: 460 }, detections: dets }], frame, 0.3, 3);
    expect(merged).toEqual([dets[9], dets[8], dets[7]]);
  });
});
