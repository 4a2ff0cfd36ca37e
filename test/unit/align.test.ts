import { describe, expect, it } from 'vitest';
import {
  alignTransform,
  applySimilarity,
  boxTransform,
  estimateSimilarity,
  faceTemplate,
  invertSimilarity,
  type Point,
  warpInto,
} from '../../src/faces/align.js';

describe('similarity transform', () => {
  it('recovers a known rotation + scale + translation exactly', () => {
    const t = { a: 2 * Math.cos(0.3), b: 2 * Math.sin(0.3), tx: 5, ty: -7 };
    const src: Point[] = [
      [0, 0],
      [10, 0],
      [3, 8],
      [-4, 6],
    ];
    const dst = src.map((p) => applySimilarity(t, p));
    const e = estimateSimilarity(src, dst);
    expect(e.a).toBeCloseTo(t.a, 9);
    expect(e.b).toBeCloseTo(t.b, 9);
    expect(e.tx).toBeCloseTo(5, 9);
    expect(e.ty).toBeCloseTo(-7, 9);
    const back = applySimilarity(invertSimilarity(e), dst[2] as Point);
    expect(back[0]).toBeCloseTo(3, 9);
    expect(back[1]).toBeCloseTo(8, 9);
  });

  it('maps a tilted face’s eyes onto the horizontal template line', () => {
    // eyes 40 px apart, tilted 20 degrees, nose and mouth below the eye midpoint
    const ang = (20 * Math.PI) / 180;
    const rot = (x: number, y: number): Point => [
      100 + x * Math.cos(ang) - y * Math.sin(ang),
      80 + x * Math.sin(ang) + y * Math.cos(ang),
    ];
    const lm = [rot(-20, 0), rot(20, 0), rot(0, 23), rot(0, 46)];
    const t = alignTransform(lm, 112, 1);
    const [re, le] = [applySimilarity(t, lm[0] as Point), applySimilarity(t, lm[1] as Point)];
    expect(Math.abs(re[1] - le[1])).toBeLessThan(1); // level eyes
    const tpl = faceTemplate(1);
    expect(re[0] / 112).toBeCloseTo((tpl[0] as Point)[0], 1);
  });

  it('context > 1 shrinks the face in the crop', () => {
    const t1 = faceTemplate(1);
    const t2 = faceTemplate(1.5);
    const eyeDist = (t: Point[]) => (t[1] as Point)[0] - (t[0] as Point)[0];
    expect(eyeDist(t2)).toBeCloseTo(eyeDist(t1) / 1.5, 9);
  });
});

describe('warp', () => {
  it('with the identity transform copies pixels, in RGB or mean-subtracted BGR', () => {
    const rgb = new Uint8Array([10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120]); // 2x2
    const out = new Float32Array(12);
    warpInto(rgb, 2, 2, { a: 1, b: 0, tx: 0, ty: 0 }, 2, out, 0);
    expect(Array.from(out)).toEqual(Array.from(rgb));
    warpInto(rgb, 2, 2, { a: 1, b: 0, tx: 0, ty: 0 }, 2, out, 0, { order: 'bgr', mean: [1, 2, 3], scale: 1 });
    expect(Array.from(out.slice(0, 3))).toEqual([29, 18, 7]);
  });

  it('a box crop centres the box and scales it to the crop', () => {
    const t = boxTransform([10, 20, 30, 40], 100, 1);
    expect(applySimilarity(t, [20, 30])).toEqual([50, 50]);
    expect(applySimilarity(t, [10, 20])).toEqual([0, 0]);
  });
});
