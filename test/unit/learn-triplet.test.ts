import type { Scalar, Tensor } from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  applyHead,
  DEFAULT_HEAD_RECIPE,
  type HeadRecipe,
  headForward,
  initParams,
  paramShapes,
} from '../../src/faces/learn/head.js';
import { clusteredSet } from '../../src/faces/learn/synthetic.js';
import { loadTf } from '../../src/faces/learn/tf.js';
import { pairFigures, projectItems, trainTriplet, transientHead } from '../../src/faces/learn/train.js';
import {
  mineTriplets,
  pairwiseSqDist,
  tripletLoss,
  tripletLossValue,
} from '../../src/faces/learn/triplet.js';

describe('triplet loss', () => {
  it('matches hand-computed values and gradients on tiny tensors', async () => {
    const tf = await loadTf();
    // Triplet 1: d(a,p) = 1, d(a,n) = 4, alpha 0.5 -> max(1 - 4 + 0.5, 0) = 0 (inactive).
    // Triplet 2: d(a,p) = 1 + 4 = 5, d(a,n) = 0 + 1 = 1 -> 5 - 1 + 0.5 = 4.5.
    const a = tf.tensor2d([
      [0, 0],
      [1, 1],
    ]);
    const p = tf.tensor2d([
      [1, 0],
      [2, 3],
    ]);
    const n = tf.tensor2d([
      [0, 2],
      [1, 2],
    ]);
    const before = tf.memory().numTensors;
    const loss = tripletLoss(tf, a, p, n, 0.5);
    expect((await loss.data())[0]).toBeCloseTo(4.5, 5);
    loss.dispose();
    expect(
      tripletLossValue(
        [
          [0, 0],
          [1, 1],
        ],
        [
          [1, 0],
          [2, 3],
        ],
        [
          [0, 2],
          [1, 2],
        ],
        0.5,
      ),
    ).toBeCloseTo(4.5, 6);
    // Active triplet: dL/da = 2(n - p), dL/dp = 2(p - a), dL/dn = 2(a - n); inactive: zero.
    const g = tf.grads((x: Tensor, y: Tensor, z: Tensor) => tripletLoss(tf, x, y, z, 0.5) as Scalar)([
      a,
      p,
      n,
    ]);
    const [ga, gp, gn] = (await Promise.all(g.map((t) => t.array() as Promise<number[][]>))).map((m) =>
      m.map((r) => r.map((v) => v + 0)),
    );
    expect(ga).toEqual([
      [0, 0],
      [-2, -2],
    ]);
    expect(gp).toEqual([
      [0, 0],
      [2, 4],
    ]);
    expect(gn).toEqual([
      [0, 0],
      [0, -2],
    ]);
    tf.dispose(g);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([a, p, n]);
  });

  it('head + loss gradients agree with finite differences (linear and 2-layer heads)', async () => {
    const tf = await loadTf();
    const data = clusteredSet({ identities: 3, perIdentity: 3, dim: 6, signalDims: 2, seed: 3 });
    const X = tf.tensor2d(
      data.flatMap((d) => Array.from(d.embedding)),
      [9, 6],
    );
    // fixed triplets as one-hot selections
    const sel = (idx: number[]) =>
      tf.tensor2d(
        idx.flatMap((j) => Array.from({ length: 9 }, (_, c) => (c === j ? 1 : 0))),
        [idx.length, 9],
      );
    const [A, P, N] = [sel([0, 3, 6, 1]), sel([1, 4, 7, 2]), sel([3, 0, 0, 4])];
    for (const kind of ['linear', 'mlp'] as const) {
      const recipe: HeadRecipe = { ...DEFAULT_HEAD_RECIPE, kind, hiddenDim: 4, outDim: 6, seed: 5 };
      const init = initParams(recipe, 6);
      const shapes = paramShapes(recipe, 6);
      // perturb so the ReLU / hinge are in general position
      for (const v of Object.values(init))
        for (let i = 0; i < v.length; i++) v[i] = (v[i] as number) + 0.3 * Math.sin(i + 1);
      const lossOf = (params: Record<string, Tensor>) =>
        tf.tidy(() => {
          const e = headForward(tf, kind, params, X);
          return tripletLoss(tf, tf.matMul(A, e), tf.matMul(P, e), tf.matMul(N, e), 0.8) as Scalar;
        });
      const name = kind === 'linear' ? 'W' : 'W1';
      const others = Object.fromEntries(
        Object.entries(init)
          .filter(([k]) => k !== name)
          .map(([k, v]) => [k, tf.tensor(v, shapes[k])]),
      );
      const w = tf.tensor(init[name] as Float32Array, shapes[name]);
      const grad = tf.grad((t: Tensor) => lossOf({ ...others, [name]: t }))(w);
      const g = (await grad.data()) as Float32Array;
      const base = init[name] as Float32Array;
      const eps = 1e-2;
      let maxErr = 0;
      let maxG = 0;
      for (const i of [0, 3, 7, 11, 19]) {
        const plus = Float32Array.from(base);
        const minus = Float32Array.from(base);
        plus[i] = (plus[i] as number) + eps;
        minus[i] = (minus[i] as number) - eps;
        const lp = lossOf({ ...others, [name]: tf.tensor(plus, shapes[name]) });
        const lm = lossOf({ ...others, [name]: tf.tensor(minus, shapes[name]) });
        const num = (((await lp.data())[0] as number) - ((await lm.data())[0] as number)) / (2 * eps);
        tf.dispose([lp, lm]);
        maxErr = Math.max(maxErr, Math.abs(num - (g[i] as number)));
        maxG = Math.max(maxG, Math.abs(g[i] as number));
      }
      expect(maxG, `${kind}: some gradient is non-zero`).toBeGreaterThan(1e-3);
      expect(maxErr, `${kind}: analytic vs numerical gradient`).toBeLessThan(2e-2 * Math.max(1, maxG));
      tf.dispose([grad, w, ...Object.values(others)]);
    }
    tf.dispose([X, A, P, N]);
  });
});

describe('triplet mining', () => {
  it('returns semi-hard negatives: farther than the positive, within the margin', () => {
    // labels: 0 0 1 1 2 ; distances from item 0: pos 1 at 1.0; negatives 2 at 0.5 (hard),
    // 3 at 1.3 (semi-hard), 4 at 1.1 (semi-hard, harder) -> 4
    const labels = [0, 0, 1, 1, 2];
    const D = new Float32Array(25).fill(9);
    const set = (i: number, j: number, v: number) => {
      D[i * 5 + j] = v;
      D[j * 5 + i] = v;
    };
    for (let i = 0; i < 5; i++) D[i * 5 + i] = 0;
    set(0, 1, 1.0);
    set(0, 2, 0.5);
    set(0, 3, 1.3);
    set(0, 4, 1.1);
    set(2, 3, 0.2);
    const t = mineTriplets(D, labels, 0.5);
    const i0 = t.anchors.findIndex((a, k) => a === 0 && t.positives[k] === 1);
    expect(t.negatives[i0]).toBe(4);
    expect(t.kinds[i0]).toBe('semi-hard');
    // every semi-hard negative satisfies d_ap < d_an < d_ap + alpha
    t.anchors.forEach((a, k) => {
      const dap = D[a * 5 + (t.positives[k] as number)] as number;
      const dan = D[a * 5 + (t.negatives[k] as number)] as number;
      if (t.kinds[k] === 'semi-hard') {
        expect(dan).toBeGreaterThan(dap);
        expect(dan).toBeLessThan(dap + 0.5);
      }
    });
    // all anchor-positive pairs, both orders; the singleton identity 2 is never an anchor
    expect(t.anchors.length).toBe(4);
    expect(t.anchors).not.toContain(4);
  });

  it('falls back to the hardest negative when none is semi-hard', () => {
    const labels = [0, 0, 1, 2];
    const D = new Float32Array(16).fill(0);
    const set = (i: number, j: number, v: number) => {
      D[i * 4 + j] = v;
      D[j * 4 + i] = v;
    };
    set(0, 1, 1.0);
    set(0, 2, 0.4); // hard (closer than the positive)
    set(0, 3, 0.7); // hard
    set(1, 2, 3);
    set(1, 3, 2.5); // both beyond the margin: easy; hardest = 3
    const t = mineTriplets(D, labels, 0.2);
    expect(t.negatives[t.anchors.indexOf(0)]).toBe(2);
    expect(t.kinds[t.anchors.indexOf(0)]).toBe('hard');
    expect(t.negatives[t.anchors.indexOf(1)]).toBe(3);
    expect(t.kinds[t.anchors.indexOf(1)]).toBe('easy');
  });

  it('pairwiseSqDist is the squared Euclidean distance', () => {
    const d = pairwiseSqDist(new Float32Array([0, 0, 3, 4, 1, 1]), 3, 2);
    expect(Array.from(d)).toEqual([0, 25, 2, 25, 0, 13, 2, 13, 0]);
  });
});

describe('training a head on a synthetic clustered set', () => {
  it('lowers the loss and raises held-out TAR, without leaking tensors', async () => {
    const tf = await loadTf();
    const train = clusteredSet({ identities: 24, perIdentity: 6, seed: 11, prefix: 'tr' });
    const val = clusteredSet({ identities: 12, perIdentity: 6, seed: 99, prefix: 'va' });
    const before = tf.memory().numTensors;
    const raw = pairFigures(val);
    const seen: number[] = [];
    const live: number[] = [];
    const r = await trainTriplet(train, {
      recipe: { epochs: 40, lr: 0.01, alpha: 0.2, weightDecay: 0, batchSize: 72, seed: 2 },
      val,
      evalEvery: 10,
      progress: (s) => {
        seen.push(s.epoch);
        live.push(tf.memory().numTensors);
      },
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(seen).toHaveLength(40);
    // the same tensors alive after every epoch (variables, their initial values, Adam's slots)
    expect(new Set(live).size, `live tensors per epoch: ${live.join(',')}`).toBe(1);
    const first = r.history.slice(0, 3).reduce((s, h) => s + h.lossPerTriplet, 0) / 3;
    const last = r.history.slice(-3).reduce((s, h) => s + h.lossPerTriplet, 0) / 3;
    expect(last).toBeLessThan(first * 0.7);
    const head = transientHead(r.params, { ...DEFAULT_HEAD_RECIPE, kind: 'linear' }, r.inDim, r.outDim);
    const learned = pairFigures(projectItems(head, val));
    expect(learned.tarAtFar1).toBeGreaterThan(raw.tarAtFar1 + 0.1);
    expect(learned.auc).toBeGreaterThan(raw.auc);
    expect(r.history.at(-1)?.valTar).toBeCloseTo(learned.tarAtFar1, 6);
    // outputs stay on the unit sphere
    for (const e of applyHead(head, [val[0]?.embedding as Float32Array]))
      expect(Math.hypot(...Array.from(e))).toBeCloseTo(1, 5);
  });
});
