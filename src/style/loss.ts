/**
 * The neural style cost of Gatys et al., as used by Johnson et al. for feed-forward training:
 *
 *   J(G) = alpha * J_content(C, G) + beta * J_style(S, G) + gamma * TV(G)
 *
 * - J_content: mean squared difference of the loss network's activations at one layer.
 * - J_style: weighted sum over layers of the squared Frobenius distance between normalised Gram
 *   matrices (channel correlations) of the activations: G_l = F_l^T F_l / (H_l W_l C_l), F_l = [HW, C].
 * - TV: mean squared difference of neighbouring pixels (smoothness; scaled to 0..1 pixels).
 *
 * All functions are pure tfjs ops on NHWC tensors and differentiable on every backend whose gradient
 * kernels are registered (src/style/kernels for wasm).
 */
import type * as tfTypes from '@tensorflow/tfjs-core';

type Tf = typeof tfTypes;
type T4 = tfTypes.Tensor4D;

/**
 * Gram matrices [B, C, C] of features [B, H, W, C], normalised by H*W*C. `centred`: of the
 * features minus their spatial mean (their covariance), so a painting's mean colour cannot
 * dominate its texture statistics (post-ReLU activations are all positive).
 */
export function gram(tf: Tf, features: T4, centred = false): tfTypes.Tensor3D {
  return tf.tidy(() => {
    const [b, h, w, c] = features.shape;
    const flat = tf.reshape(features, [b, h * w, c]) as tfTypes.Tensor3D;
    const f = centred ? (tf.sub(flat, tf.mean(flat, 1, true)) as tfTypes.Tensor3D) : flat;
    // transpose + plain matMul: the transposeA flag is ~8x slower on wasm
    const ft = tf.transpose(f, [0, 2, 1]) as tfTypes.Tensor3D;
    return tf.div(tf.matMul(ft, f), h * w * c) as tfTypes.Tensor3D;
  });
}

/** Mean squared difference of two activations of the same shape. */
export function contentCost(tf: Tf, a: T4, g: T4): tfTypes.Scalar {
  if (a.shape.join() !== g.shape.join())
    throw new Error(`contentCost: shapes differ (${a.shape} vs ${g.shape})`);
  return tf.tidy(() => tf.mean(tf.squaredDifference(a, g)) as tfTypes.Scalar);
}

/**
 * Style cost of one layer: squared Frobenius distance of Gram matrices, averaged over the batch.
 * `styleGram` is [1, C, C] (one style image, broadcast) or [B, C, C].
 */
export function styleLayerCost(tf: Tf, styleGram: tfTypes.Tensor3D, g: T4, centred = false): tfTypes.Scalar {
  return tf.tidy(() => {
    const gg = gram(tf, g, centred);
    if (styleGram.shape[1] !== gg.shape[1])
      throw new Error(`styleLayerCost: ${styleGram.shape[1]} vs ${gg.shape[1]} channels`);
    const perImage = tf.sum(tf.squaredDifference(gg, styleGram), [1, 2]);
    return tf.mean(perImage) as tfTypes.Scalar;
  });
}

/** Weighted style cost over layers; `weights[i]` multiplies layer i; `centred` as in `gram`. */
export function styleCost(
  tf: Tf,
  styleGrams: tfTypes.Tensor3D[],
  gFeatures: T4[],
  weights: number[],
  centred = false,
): tfTypes.Scalar {
  if (styleGrams.length !== gFeatures.length || weights.length !== gFeatures.length)
    throw new Error(
      `styleCost: ${styleGrams.length} style grams, ${gFeatures.length} layers, ${weights.length} weights`,
    );
  return tf.tidy(() => {
    let total = tf.scalar(0);
    gFeatures.forEach((f, i) => {
      total = tf.add(
        total,
        tf.mul(styleLayerCost(tf, styleGrams[i] as tfTypes.Tensor3D, f, centred), weights[i] ?? 0),
      );
    });
    return total as tfTypes.Scalar;
  });
}

/** Total variation: mean squared difference of horizontal and vertical neighbours, pixels in 0..255 scaled to 0..1. */
export function tvCost(tf: Tf, img: T4): tfTypes.Scalar {
  return tf.tidy(() => {
    const [b, h, w, c] = img.shape;
    const x = tf.div(img, 255);
    const dy = tf.squaredDifference(
      tf.slice(x, [0, 1, 0, 0], [b, h - 1, w, c]),
      tf.slice(x, [0, 0, 0, 0], [b, h - 1, w, c]),
    );
    const dx = tf.squaredDifference(
      tf.slice(x, [0, 0, 1, 0], [b, h, w - 1, c]),
      tf.slice(x, [0, 0, 0, 0], [b, h, w - 1, c]),
    );
    return tf.add(tf.mean(dy), tf.mean(dx)) as tfTypes.Scalar;
  });
}

/** The weights of J(G). */
export interface CostWeights {
  alpha: number;
  beta: number;
  gamma: number;
  /** Per style layer (multiplies beta). */
  layers: number[];
}

export interface CostParts {
  total: tfTypes.Scalar;
  content: tfTypes.Scalar;
  style: tfTypes.Scalar;
  tv: tfTypes.Scalar;
}

/**
 * J(G) from precomputed targets: content activations of C (at the loss net's content layer) and the
 * style Gram matrices of S. `gContent` / `gStyle` are G's activations at the same layers.
 */
export function totalCost(
  tf: Tf,
  w: CostWeights,
  target: { content: T4; styleGrams: tfTypes.Tensor3D[] },
  g: { image: T4; content: T4; style: T4[] },
): CostParts {
  const content = contentCost(tf, target.content, g.content);
  const style = styleCost(tf, target.styleGrams, g.style, w.layers);
  const tv = tvCost(tf, g.image);
  const total = tf.tidy(() =>
    tf.add(tf.add(tf.mul(content, w.alpha), tf.mul(style, w.beta)), tf.mul(tv, w.gamma)),
  ) as tfTypes.Scalar;
  return { total, content, style, tv };
}

/**
 * Temporal stability: the network's output on a frame and on a copy shifted by `shift` pixels (and
 * noised, like the next frame of a camera) must agree where they overlap. `out` is the output on
 * the frame, `outShifted` on the copy cropped at [shift, shift]; mean squared difference on 0..1.
 */
export function temporalCost(tf: Tf, out: T4, outShifted: T4, shift: number): tfTypes.Scalar {
  return tf.tidy(() => {
    const [b, h, w, c] = outShifted.shape;
    const overlap = tf.slice(out, [0, shift, shift, 0], [b, h, w, c]);
    return tf.mean(tf.squaredDifference(tf.div(overlap, 255), tf.div(outShifted, 255))) as tfTypes.Scalar;
  });
}
