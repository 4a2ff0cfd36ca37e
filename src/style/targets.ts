/**
 * The painting's side of J_style, shared by training and pixel optimisation: its Gram matrices at
 * the loss network's style layers, and each layer's weight 1 / (L * ||S_l||^2) so beta is a relative
 * weight near 1 whatever the loss network.
 *
 * Multi-scale: the painting at several sizes (`styleScales` times `styleSize`) gives one Gram per
 * size and the target is their mean, so brush strokes at the painting's own scale and its larger
 * shapes (read small) both count, as the crops the net sees mix close-ups and wide shots.
 */
import type * as tfTypes from '@tensorflow/tfjs-core';
import type { RgbImage } from '../util/rgb.js';
import type { Tf } from './backend.js';
import { readStyleImage } from './data.js';
import { gram } from './loss.js';
import type { LossNet } from './loss-net.js';

type T4 = tfTypes.Tensor4D;

/** How the painting's statistics are taken (the recipe's `gram` and `styleScales`). */
export interface StyleStats {
  /** Gram of mean-centred activations (covariance) instead of the plain Gram. */
  centred: boolean;
  /** Multiples of `styleSize` at which the painting is read; [1]: one scale. */
  scales: number[];
}

export const PLAIN_STATS: StyleStats = { centred: false, scales: [1] };

export interface StyleTargets {
  grams: tfTypes.Tensor3D[];
  layerWeights: number[];
  centred: boolean;
  dispose(): void;
}

/** The painting read at each of `stats.scales` times `styleSize` (longer side, at least 64 px). */
export async function readStyleScales(
  file: string,
  styleSize: number,
  stats: StyleStats,
): Promise<RgbImage[]> {
  if (!stats.scales.length) throw new Error('style scales: at least one scale is needed');
  return Promise.all(stats.scales.map((k) => readStyleImage(file, Math.max(64, Math.round(styleSize * k)))));
}

export function styleTargets(
  tf: Tf,
  net: LossNet,
  paintings: RgbImage | RgbImage[],
  stats: StyleStats = PLAIN_STATS,
): StyleTargets {
  const images = Array.isArray(paintings) ? paintings : [paintings];
  const grams = tf.tidy(() => {
    const perScale = images.map((p) => {
      const x = tf.tensor4d(Float32Array.from(p.pixels), [1, p.height, p.width, 3]);
      const f = net.features(x);
      return net.styleLayers.map((l) => gram(tf, f[l] as T4, stats.centred));
    });
    return net.styleLayers.map((_, i) =>
      tf.keep(
        tf.div(tf.addN(perScale.map((g) => g[i] as tfTypes.Tensor3D)), perScale.length) as tfTypes.Tensor3D,
      ),
    );
  });
  const layerWeights = grams.map((g) => {
    const e = tf.tidy(() => tf.sum(tf.square(g)).dataSync()[0] as number);
    return 1 / (grams.length * Math.max(e, 1e-12));
  });
  return { grams, layerWeights, centred: stats.centred, dispose: () => tf.dispose(grams) };
}
