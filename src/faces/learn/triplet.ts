import type { Tensor } from '@tensorflow/tfjs-core';
import type { Tf } from './tf.js';

/**
 * The triplet loss of FaceNet (Schroff et al. 2015), summed over the batch:
 *   L = sum_i max(||f(a_i) - f(p_i)||^2 - ||f(a_i) - f(n_i)||^2 + alpha, 0)
 * `a`, `p`, `n`: [T, d] embeddings of anchors, positives and negatives. Returns a scalar tensor.
 */
export function tripletLoss(tf: Tf, a: Tensor, p: Tensor, n: Tensor, alpha: number): Tensor {
  return tf.tidy(() => {
    const dap = tf.sum(tf.square(tf.sub(a, p)), 1);
    const dan = tf.sum(tf.square(tf.sub(a, n)), 1);
    return tf.sum(tf.relu(tf.add(tf.sub(dap, dan), alpha)));
  });
}

/** The same loss on plain arrays (reference for tests and progress figures). */
export function tripletLossValue(
  a: ArrayLike<number>[],
  p: ArrayLike<number>[],
  n: ArrayLike<number>[],
  alpha: number,
): number {
  let loss = 0;
  a.forEach((ai, t) => {
    const pi = p[t] as ArrayLike<number>;
    const ni = n[t] as ArrayLike<number>;
    let dap = 0;
    let dan = 0;
    for (let k = 0; k < ai.length; k++) {
      dap += ((ai[k] as number) - (pi[k] as number)) ** 2;
      dan += ((ai[k] as number) - (ni[k] as number)) ** 2;
    }
    loss += Math.max(dap - dan + alpha, 0);
  });
  return loss;
}

/** Squared Euclidean distances of every pair of rows of X ([n, d], row-major): [n * n]. */
export function pairwiseSqDist(x: Float32Array, n: number, d: number): Float32Array {
  const out = new Float32Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = i + 1; j < n; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += ((x[i * d + k] as number) - (x[j * d + k] as number)) ** 2;
      out[i * n + j] = s;
      out[j * n + i] = s;
    }
  return out;
}

export type TripletKind = 'semi-hard' | 'hard' | 'easy';

export interface Triplets {
  anchors: number[];
  positives: number[];
  negatives: number[];
  /** Which kind of negative each triplet got (semi-hard when one existed). */
  kinds: TripletKind[];
}

/**
 * Online triplet mining within a batch, as in FaceNet: every anchor-positive pair (same label, both
 * orders) gets a semi-hard negative, one farther from the anchor than the positive but within the
 * margin (d_ap < d_an < d_ap + alpha); among those the closest one (the hardest semi-hard). When the
 * batch has none, the hardest negative (the closest one, whether closer than the positive or beyond
 * the margin) is used. `dist`: squared distances [n * n]; `labels`: one per row.
 */
export function mineTriplets(dist: ArrayLike<number>, labels: ArrayLike<number>, alpha: number): Triplets {
  const n = labels.length;
  const out: Triplets = { anchors: [], positives: [], negatives: [], kinds: [] };
  for (let a = 0; a < n; a++) {
    for (let p = 0; p < n; p++) {
      if (p === a || labels[p] !== labels[a]) continue;
      const dap = dist[a * n + p] as number;
      let semi = -1;
      let semiD = Number.POSITIVE_INFINITY;
      let hard = -1;
      let hardD = Number.POSITIVE_INFINITY;
      for (let k = 0; k < n; k++) {
        if (labels[k] === labels[a]) continue;
        const dan = dist[a * n + k] as number;
        if (dan < hardD) {
          hardD = dan;
          hard = k;
        }
        if (dan > dap && dan < dap + alpha && dan < semiD) {
          semiD = dan;
          semi = k;
        }
      }
      if (hard < 0) continue; // no negative in the batch
      out.anchors.push(a);
      out.positives.push(p);
      if (semi >= 0) {
        out.negatives.push(semi);
        out.kinds.push('semi-hard');
      } else {
        out.negatives.push(hard);
        out.kinds.push(hardD <= dap ? 'hard' : 'easy');
      }
    }
  }
  return out;
}
