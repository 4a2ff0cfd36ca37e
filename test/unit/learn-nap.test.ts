// Nuisance attribute projection: finds the planted within-identity directions, removes them exactly,
// and lifts held-out TAR on identities it never saw; the linear triplet head can start from it.
import { describe, expect, it } from 'vitest';
import type { Labeled } from '../../src/faces/metrics.js';
import { applyHead, DEFAULT_HEAD_RECIPE } from '../../src/faces/learn/head.js';
import { nuisanceDirections, projectionMatrix } from '../../src/faces/learn/nap.js';
import { normalize, Rng } from '../../src/util/rng.js';
import { pairFigures, trainTriplet, transientHead } from '../../src/faces/learn/train.js';

const DIM = 24;
const rng0 = new Rng(3);
/** Two fixed unit "nuisance" directions (think lighting and grey vs colour), orthogonal. */
const U = (() => {
  const a = normalize(Float32Array.from({ length: DIM }, () => rng0.normal()));
  const b0 = Float32Array.from({ length: DIM }, () => rng0.normal());
  let d = 0;
  for (let j = 0; j < DIM; j++) d += (a[j] as number) * (b0[j] as number);
  const b = normalize(Float32Array.from(b0, (x, j) => x - d * (a[j] as number)));
  return [a, b];
})();

/** Identities spread over the sphere; each image moves far along U and a little elsewhere. */
function nuisanceSet(identities: number, per: number, seed: number, prefix: string): Labeled[] {
  const rng = new Rng(seed);
  const out: Labeled[] = [];
  for (let id = 0; id < identities; id++) {
    const c = normalize(Float32Array.from({ length: DIM }, () => rng.normal()));
    for (let k = 0; k < per; k++) {
      const v = Float32Array.from(c, (x) => x + rng.normal() * 0.06);
      for (const u of U) {
        const s = rng.normal() * 0.9;
        for (let j = 0; j < DIM; j++) v[j] = (v[j] as number) + s * (u[j] as number);
      }
      out.push({ identity: `${prefix}${id}`, embedding: normalize(v) });
    }
  }
  return out;
}

const cosAbs = (a: Float32Array, b: Float32Array) => {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += (a[j] as number) * (b[j] as number);
  return Math.abs(s);
};

describe('nuisance attribute projection', () => {
  const train = nuisanceSet(12, 6, 1, 'train');
  const test = nuisanceSet(12, 6, 2, 'test');

  it('finds the planted directions: the removed subspace is theirs', () => {
    const nap = nuisanceDirections(train, 2);
    expect(nap.k).toBe(2);
    // each planted direction lies (almost) entirely in the span of the two found ones
    for (const u of U) {
      const inSpan = [0, 1].reduce(
        (s, c) => s + cosAbs(u, nap.directions.subarray(c * DIM, (c + 1) * DIM)) ** 2,
        0,
      );
      expect(inSpan).toBeGreaterThan(0.98);
    }
    expect(nap.variance[0]).toBeGreaterThanOrEqual(nap.variance[1] as number);
    expect((nap.variance[0] as number) + (nap.variance[1] as number)).toBeGreaterThan(
      0.8 * nap.totalVariance,
    );
  });

  it('W = I - U^T U is a symmetric projection that removes exactly those directions', () => {
    const { directions } = nuisanceDirections(train, 2);
    const W = projectionMatrix(directions, DIM);
    for (let i = 0; i < DIM; i++)
      for (let j = 0; j < DIM; j++) {
        expect(W[i * DIM + j]).toBeCloseTo(W[j * DIM + i] as number, 6);
        let ww = 0; // (W W)_ij = W_ij
        for (let k = 0; k < DIM; k++) ww += (W[i * DIM + k] as number) * (W[k * DIM + j] as number);
        expect(ww).toBeCloseTo(W[i * DIM + j] as number, 5);
      }
    for (let c = 0; c < 2; c++) {
      const u = directions.subarray(c * DIM, (c + 1) * DIM);
      for (let j = 0; j < DIM; j++) {
        let y = 0;
        for (let i = 0; i < DIM; i++) y += (u[i] as number) * (W[i * DIM + j] as number);
        expect(Math.abs(y)).toBeLessThan(1e-5);
      }
    }
  });

  it('raises TAR@FAR1% on held-out identities, through the linear head with --init nap --epochs 0', async () => {
    const raw = pairFigures(test);
    const recipe = { ...DEFAULT_HEAD_RECIPE, init: 'nap' as const, napDims: 2, epochs: 0 };
    const r = await trainTriplet(train, { recipe });
    const head = transientHead(r.params, recipe, r.inDim, r.outDim);
    const out = applyHead(
      head,
      test.map((t) => t.embedding),
    );
    const projected = pairFigures(test.map((t, i) => ({ ...t, embedding: out[i] as Float32Array })));
    expect(raw.tarAtFar1).toBeLessThan(0.7);
    expect(projected.tarAtFar1).toBeGreaterThan(0.95);
    expect(projected.auc).toBeGreaterThan(raw.auc);
  });

  it('bad requests are refused by name', async () => {
    expect(() => nuisanceDirections(train, 0)).toThrow(/number of directions must be an integer in 1\.\.23/);
    expect(() => nuisanceDirections(train, DIM)).toThrow(/1\.\.23/);
    expect(() => nuisanceDirections(train.slice(0, 2), 2)).toThrow(/directions need more/);
    const mixed = [...train.slice(0, 4), { identity: 'x', embedding: new Float32Array(8) }];
    expect(() => nuisanceDirections(mixed, 2)).toThrow(/different lengths/);
    await expect(trainTriplet(train, { recipe: { kind: 'mlp', init: 'nap', epochs: 1 } })).rejects.toThrow(
      /--init nap needs a linear head/,
    );
    await expect(trainTriplet(train, { recipe: { epochs: 0 } })).rejects.toThrow(
      /--epochs 0 leaves the raw embedding/,
    );
  });
});
