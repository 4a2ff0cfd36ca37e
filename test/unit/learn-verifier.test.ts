import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { figures, scorePairs } from '../../src/faces/learn/evaluate.js';
import { clusteredSet } from '../../src/faces/learn/synthetic.js';
import { loadTf } from '../../src/faces/learn/tf.js';
import {
  allPairs,
  loadVerifier,
  pairFeatures,
  saveVerifier,
  trainVerifier,
  verifierLogit,
  verifierProbability,
  verifyWithVerifier,
} from '../../src/faces/learn/verifier.js';
import { dot, tarAtFar } from '../../src/faces/metrics.js';

const dir = mkdtempSync(join(tmpdir(), 'vigil-verifier-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('pair verifier (logistic regression on |a-b|, (a-b)^2, cos)', () => {
  it('pair features are |a-b|, (a-b)^2 and the cosine', () => {
    const f = pairFeatures(new Float32Array([0.6, 0.8]), new Float32Array([1, 0]));
    expect(Array.from(f).map((x) => Number(x.toFixed(6)))).toEqual([0.4, 0.8, 0.16, 0.64, 0.6]);
  });

  it('balanced training lowers the log-loss, raises held-out TAR over the raw cosine, and picks its threshold at FAR 1% of training pairs', async () => {
    const tf = await loadTf();
    const before = tf.memory().numTensors;
    const train = clusteredSet({ identities: 20, perIdentity: 6, seed: 21, prefix: 'tr', nuisance: 1.4 });
    const val = clusteredSet({ identities: 10, perIdentity: 6, seed: 77, prefix: 'va', nuisance: 1.4 });
    const r = await trainVerifier(train, { recipe: { epochs: 80, lr: 0.05, weightDecay: 0 } });
    expect(tf.memory().numTensors).toBe(before);
    expect(r.history.at(-1)?.loss as number).toBeLessThan((r.history[0]?.loss as number) * 0.8);
    const v = r.verifier;
    // the threshold: FAR 1% on the training pairs' log-odds
    const { genuine, impostor } = allPairs(train);
    const lg = genuine.map(([i, j]) =>
      verifierLogit(v, train[i]?.embedding as Float32Array, train[j]?.embedding as Float32Array),
    );
    const li = impostor.map(([i, j]) =>
      verifierLogit(v, train[i]?.embedding as Float32Array, train[j]?.embedding as Float32Array),
    );
    const op = tarAtFar(lg, li, 0.01);
    expect(v.manifest.threshold.logit).toBeCloseTo(op.threshold, 6);
    expect(v.manifest.threshold.far).toBeLessThanOrEqual(0.01);
    expect(v.manifest.threshold.probability).toBeCloseTo(1 / (1 + Math.exp(-op.threshold)), 6);
    // held-out identities
    const rawP = scorePairs(train, dot);
    const raw = figures(val, dot, tarAtFar(rawP.genuine, rawP.impostor, 0.01).threshold);
    const learned = figures(val, (a, b) => verifierLogit(v, a, b), v.manifest.threshold.logit);
    expect(learned.tarAtFar1).toBeGreaterThan(raw.tarAtFar1 + 0.05);
    expect(learned.auc).toBeGreaterThan(raw.auc);
    // decision
    const a = val[0]?.embedding as Float32Array;
    const b = val[1]?.embedding as Float32Array;
    const d = verifyWithVerifier(v, a, b);
    expect(d.probability).toBeCloseTo(verifierProbability(v, a, b), 9);
    expect(d.same).toBe(verifierLogit(v, a, b) >= v.manifest.threshold.logit);
    expect(d.similarity).toBeCloseTo(dot(a, b), 6);
  });

  it('saves and loads (manifest + weights.bin with digest); a damaged file is refused', async () => {
    const train = clusteredSet({ identities: 4, perIdentity: 3, dim: 8, seed: 3 });
    const r = await trainVerifier(train, { recipe: { epochs: 3 } });
    const out = join(dir, 'v1-verifier');
    saveVerifier(
      out,
      {
        base: { model: 'm', space: 'box-1.3', dim: 8 },
        data: { dirs: [], trainIdentities: [], valIdentities: [], trainImages: 12, valImages: 0 },
        created: 'now',
        recipe: r.recipe,
        featureDim: r.verifier.manifest.featureDim,
        threshold: r.verifier.manifest.threshold,
      },
      r.verifier.params,
    );
    const back = loadVerifier(out);
    expect(back.manifest.name).toBe('v1-verifier');
    expect(back.manifest.featureDim).toBe(17);
    const a = train[0]?.embedding as Float32Array;
    const b = train[5]?.embedding as Float32Array;
    expect(verifierLogit(back, a, b)).toBeCloseTo(verifierLogit(r.verifier, a, b), 5);
    expect(() => verifierLogit(back, new Float32Array(4), new Float32Array(4))).toThrow(/takes 8-d/);
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(out, 'weights.bin'), Buffer.alloc(16));
    expect(() => loadVerifier(out)).toThrow(/does not match its manifest/);
    expect(() => loadVerifier(join(dir, 'nope'))).toThrow(/no vigil-verifier/);
  });
});
