import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  contentCost,
  gram,
  styleCost,
  styleLayerCost,
  temporalCost,
  totalCost,
  tvCost,
} from '../../src/style/loss.js';
import type { LossNet } from '../../src/style/loss-net.js';
import { styleTargets } from '../../src/style/targets.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

// features of one 2x2 image with 2 channels: pixel p has channels (a_p, b_p)
// F = [[1,2],[3,4],[5,6],[7,8]] (rows = pixels, columns = channels)
const F = [1, 2, 3, 4, 5, 6, 7, 8];
const feats = () => tf.tensor4d(F, [1, 2, 2, 2]);

describe('style cost (hand-computed values)', () => {
  it('gram: F^T F / (H W C)', () => {
    // F^T F = [[1+9+25+49, 2+12+30+56], [.., 4+16+36+64]] = [[84, 100], [100, 120]]; / (2*2*2)
    const g = gram(tf, feats());
    expect(g.shape).toEqual([1, 2, 2]);
    expect(Array.from(g.dataSync())).toEqual([84 / 8, 100 / 8, 100 / 8, 120 / 8]);
  });

  it('gram of a batch keeps images apart', () => {
    const two = tf.concat([feats(), tf.mul(feats(), 2) as tf.Tensor4D]) as tf.Tensor4D;
    const g = gram(tf, two).arraySync() as number[][][];
    expect(g[1]?.[0]?.[0]).toBeCloseTo((4 * 84) / 8, 5);
    expect(g[0]?.[1]?.[1]).toBeCloseTo(120 / 8, 5);
  });

  it('content cost: mean squared difference', () => {
    const a = feats();
    const b = tf.add(a, tf.tensor4d([1, 0, 0, 0, 0, 0, 0, 3], [1, 2, 2, 2])) as tf.Tensor4D;
    // (1^2 + 3^2) / 8 elements
    expect(contentCost(tf, a, b).dataSync()[0]).toBeCloseTo(10 / 8, 6);
    expect(() => contentCost(tf, a, tf.zeros([1, 2, 2, 3]) as tf.Tensor4D)).toThrow(/shapes differ/);
  });

  it('style layer cost: squared Frobenius distance of the Gram matrices', () => {
    // G(2F) = 4 G(F); distance^2 = sum((3 G)^2) = 9 * (84^2 + 2*100^2 + 120^2) / 64
    const s = gram(tf, feats());
    const g = tf.mul(feats(), 2) as tf.Tensor4D;
    const want = (9 * (84 * 84 + 2 * 100 * 100 + 120 * 120)) / 64;
    expect(styleLayerCost(tf, s, g).dataSync()[0]).toBeCloseTo(want, 2);
    expect(styleLayerCost(tf, s, feats()).dataSync()[0]).toBeCloseTo(0, 6);
  });

  it('style cost: weighted sum over layers', () => {
    const s = gram(tf, feats());
    const g2 = tf.mul(feats(), 2) as tf.Tensor4D;
    const one = styleLayerCost(tf, s, g2).dataSync()[0] as number;
    const c = styleCost(tf, [s, s], [g2, feats()], [0.5, 7]).dataSync()[0] as number;
    expect(c).toBeCloseTo(0.5 * one, 2);
    expect(() => styleCost(tf, [s], [g2, g2], [1, 1])).toThrow(/style grams/);
  });

  it('total variation: mean squared neighbour differences on the 0..1 scale', () => {
    // 1x2x2x1 image [[0, 255], [255, 255]]: vertical diffs (255-0, 0) -> mean 0.5; horizontal (255, 0) -> 0.5
    const img = tf.tensor4d([0, 255, 255, 255], [1, 2, 2, 1]);
    expect(tvCost(tf, img).dataSync()[0]).toBeCloseTo(1, 6);
    expect(tvCost(tf, tf.fill([1, 3, 3, 3], 9) as tf.Tensor4D).dataSync()[0]).toBe(0);
  });

  it('temporal: the output on a shifted copy is compared with the overlap of the output on the frame', () => {
    // out 1x3x3x1 = 0..8 * 25.5; shift 1: overlap is rows/cols 1..2 = [4, 5, 7, 8] * 25.5
    const out = tf.tensor4d(
      [0, 1, 2, 3, 4, 5, 6, 7, 8].map((v) => v * 25.5),
      [1, 3, 3, 1],
    );
    const same = tf.tensor4d(
      [4, 5, 7, 8].map((v) => v * 25.5),
      [1, 2, 2, 1],
    );
    expect(temporalCost(tf, out, same, 1).dataSync()[0]).toBe(0);
    // one pixel off by 51 (0.2 on 0..1): 0.04 / 4 pixels
    const off = tf.tensor4d([4 * 25.5, 5 * 25.5, 7 * 25.5, 8 * 25.5 - 51], [1, 2, 2, 1]);
    expect(temporalCost(tf, out, off, 1).dataSync()[0]).toBeCloseTo(0.01, 6);
  });

  it('J(G) = alpha content + beta style + gamma tv', () => {
    const s = gram(tf, feats());
    const img = tf.tensor4d([0, 255, 255, 255], [1, 2, 2, 1]);
    const gF = tf.mul(feats(), 2) as tf.Tensor4D;
    const parts = totalCost(
      tf,
      { alpha: 2, beta: 3, gamma: 5, layers: [1] },
      { content: feats(), styleGrams: [s] },
      { image: img, content: gF, style: [gF] },
    );
    const c = parts.content.dataSync()[0] as number;
    const st = parts.style.dataSync()[0] as number;
    expect(c).toBeCloseTo((1 + 4 + 9 + 16 + 25 + 36 + 49 + 64) / 8, 4);
    expect(parts.total.dataSync()[0]).toBeCloseTo(2 * c + 3 * st + 5 * 1, 1);
  });
});

describe('centred Grams and multi-scale painting targets', () => {
  it('centred gram: the covariance, blind to a per-channel offset', () => {
    // channel a = 1,3,5,7 (mean 4), b = 2,4,6,8 (mean 5): both centre to -3,-1,1,3; sum of products 20
    const g = gram(tf, feats(), true);
    expect(Array.from(g.dataSync())).toEqual([20 / 8, 20 / 8, 20 / 8, 20 / 8]);
    const shifted = tf.add(feats(), tf.tensor1d([100, -7])) as tf.Tensor4D;
    expect(Array.from(gram(tf, shifted, true).dataSync())).toEqual(Array.from(g.dataSync()));
    // the plain Gram of the shifted features is dominated by the offset
    expect(gram(tf, shifted).dataSync()[0]).toBeGreaterThan(100 * g.dataSync()[0]!);
    expect(styleLayerCost(tf, g, shifted, true).dataSync()[0]).toBeCloseTo(0, 6);
  });

  it('styleTargets: the mean Gram over the painting scales, layer weights 1 / (L ||S||^2)', () => {
    // a loss net whose one style layer is the image itself
    const net: LossNet = {
      name: 'random',
      styleLayers: ['px'],
      contentLayer: 'px',
      features: (x) => ({ px: x }),
      dispose: () => {},
    };
    const img = (v: number[]) => ({ width: 2, height: 2, pixels: Uint8Array.from(v) });
    const a = img([0, 0, 0, 10, 10, 10, 20, 20, 20, 30, 30, 30]);
    const b = img([5, 0, 0, 5, 0, 0, 5, 0, 0, 5, 0, 0]);
    for (const centred of [false, true]) {
      const t = styleTargets(tf, net, [a, b], { centred, scales: [1, 0.5] });
      const ga = gram(tf, tf.tensor4d(Array.from(a.pixels), [1, 2, 2, 3]), centred);
      const gb = gram(tf, tf.tensor4d(Array.from(b.pixels), [1, 2, 2, 3]), centred);
      const want = tf.div(tf.add(ga, gb), 2);
      const got = t.grams[0]!.dataSync();
      for (const [i, w] of Array.from(want.dataSync()).entries()) expect(got[i]).toBeCloseTo(w, 4);
      const norm = tf.sum(tf.square(want)).dataSync()[0]!;
      expect(t.layerWeights[0]).toBeCloseTo(1 / norm, 6);
      expect(t.centred).toBe(centred);
      t.dispose();
    }
  });
});
