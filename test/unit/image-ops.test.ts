import { describe, expect, it } from 'vitest';
import {
  blazefaceAnchors,
  decodeBlazeface,
  DEFAULT_DETECTOR,
  iou,
  nms,
} from '../../src/faces/detect/blazeface.js';
import type { Detection } from '../../src/inference/contract.js';
import { makeBatchDynamic } from '../../src/inference/model-loader.js';
import { letterboxInto, unletterbox } from '../../src/inference/preprocess.js';
import { blit, drawRect } from '../../src/output/annotate.js';

describe('letterbox', () => {
  it('centres a wide frame in a square input with a black border, normalised to [-1, 1]', () => {
    const w = 8;
    const h = 4;
    const rgb = new Uint8Array(w * h * 3).fill(255);
    const out = new Float32Array(8 * 8 * 3);
    const lb = letterboxInto(rgb, w, h, 8, out);
    expect(lb).toEqual({ scale: 1, padX: 0, padY: 2 });
    const px = (x: number, y: number) => out[(y * 8 + x) * 3] as number;
    expect(px(3, 0)).toBe(-1); // border rows
    expect(px(3, 1)).toBe(-1);
    expect(px(3, 3)).toBeCloseTo(1, 5); // image
    expect(px(3, 6)).toBe(-1);
    expect(unletterbox(lb, 4, 4)).toEqual([4, 2]);
  });

  it('downscales with bilinear interpolation', () => {
    // 4x4 gradient (x * 60) scaled to 2x2: each output pixel averages two columns.
    const rgb = new Uint8Array(4 * 4 * 3);
    for (let y = 0; y < 4; y++)
      for (let x = 0; x < 4; x++) rgb.fill(x * 60, (y * 4 + x) * 3, (y * 4 + x) * 3 + 3);
    const out = new Float32Array(2 * 2 * 3);
    letterboxInto(rgb, 4, 4, 2, out, 0, 1, 0);
    expect(Array.from(out.filter((_, i) => i % 3 === 0))).toEqual([30, 150, 30, 150]);
  });
});

describe('BlazeFace decoding', () => {
  it('generates 896 anchors for a 256 input', () => {
    const a = blazefaceAnchors(256);
    expect(a.length / 2).toBe(896);
    expect([a[0], a[1]]).toEqual([8, 8]); // first 16-px cell centre
    expect([a[1024], a[1025]]).toEqual([16, 16]); // first 32-px cell centre
  });

  it('decodes boxes and keypoints relative to anchors and maps them back through the letterbox', () => {
    const n1 = 512;
    const n2 = 384;
    const s1 = new Float32Array(n1).fill(-10);
    const r1 = new Float32Array(n1 * 16);
    const s2 = new Float32Array(n2).fill(-10);
    const r2 = new Float32Array(n2 * 16);
    // anchor 128 (cell x 0, y 4: centre 8,72): a 20x10 box centred at (10, 73), right eye at anchor + (1, 1)
    s1[128] = 3;
    s1[5] = -0.1; // below minScore 0.6: ignored
    r1.set([2, 1, 20, 10, 1, 1], 128 * 16);
    const anchors = blazefaceAnchors(256);
    const outs = [
      { data: s1, shape: [1, n1, 1] },
      { data: r1, shape: [1, n1, 16] },
      { data: s2, shape: [1, n2, 1] },
      { data: r2, shape: [1, n2, 16] },
    ];
    // 512x256 frame in a 256 input: scale 0.5, padY 128
    const dets = decodeBlazeface(
      outs,
      0,
      anchors,
      { scale: 0.5, padX: 0, padY: 128 },
      { width: 512, height: 256 },
      DEFAULT_DETECTOR,
    );
    expect(dets).toHaveLength(1);
    const d = dets[0] as Detection;
    expect(d.score).toBeCloseTo(1 / (1 + Math.exp(-3)), 6);
    // input x 0..20, y 68..78 -> frame x 0..40, y 68/0.5-128 .. 78/0.5-128
    expect(d.box).toEqual([0, 8, 40, 28]);
    expect(d.landmarks[0]).toEqual([18, 18]);
  });

  it('non-maximum suppression keeps the best of overlapping boxes', () => {
    const mk = (x: number, score: number): Detection => ({ box: [x, 0, x + 10, 10], score, landmarks: [] });
    expect(iou([0, 0, 10, 10], [5, 0, 15, 10])).toBeCloseTo(1 / 3, 6);
    const kept = nms([mk(0, 0.7), mk(1, 0.9), mk(50, 0.8)], 0.3, 10);
    expect(kept.map((d) => d.score)).toEqual([0.9, 0.8]);
    expect(nms([mk(0, 0.7), mk(50, 0.9)], 0.3, 1)).toHaveLength(1);
  });

  it('makes a batch-1 graph batch-dynamic: placeholder and Reshape targets', () => {
    const nodes = [
      {
        name: 'input',
        op: 'Placeholder',
        attr: { shape: { shape: { dim: [{ size: '1' }, { size: '256' }] } } },
      },
      { name: 'r', op: 'Reshape', input: ['x', 'r/shape'] },
    ];
    const specs = [
      { name: 'w', shape: [2], dtype: 'float32' },
      { name: 'r/shape', shape: [3], dtype: 'int32' },
    ];
    const buf = new Uint8Array(8 + 12);
    const dv = new DataView(buf.buffer);
    dv.setInt32(8, 1, true);
    dv.setInt32(12, 384, true);
    dv.setInt32(16, 1, true);
    expect(makeBatchDynamic(nodes, specs, buf)).toBe(2);
    expect(nodes[0]?.attr?.shape.shape.dim[0]?.size).toBe('-1');
    expect([dv.getInt32(8, true), dv.getInt32(12, true), dv.getInt32(16, true)]).toEqual([-1, 384, 1]);
  });
});

describe('annotation', () => {
  it('draws a clipped rectangle outline without touching the inside', () => {
    const w = 10;
    const h = 10;
    const rgb = new Uint8Array(w * h * 3);
    drawRect(rgb, w, h, [2, 2, 7, 7], [255, 0, 0], 1);
    const red = (x: number, y: number) => rgb[(y * w + x) * 3] === 255;
    expect(red(2, 2) && red(7, 2) && red(2, 7) && red(7, 7) && red(4, 2)).toBe(true);
    expect(red(4, 4)).toBe(false);
    drawRect(rgb, w, h, [-5, -5, 20, 20], [0, 255, 0], 1); // off-frame edges clip to the frame border
    expect(rgb[1]).toBe(255);
  });

  it('alpha-blends a glyph', () => {
    const rgb = new Uint8Array(2 * 1 * 3).fill(100);
    blit(rgb, 2, 1, { width: 1, height: 1, data: Buffer.from([200, 200, 200, 255]) }, 1, 0);
    expect(Array.from(rgb)).toEqual([100, 100, 100, 200, 200, 200]);
  });
});
