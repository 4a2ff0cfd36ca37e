import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { kFoldIdentities, type Sample, splitIdentities } from '../../src/faces/learn/data.js';
import { oneShotRank1, summarize } from '../../src/faces/learn/evaluate.js';
import {
  applyHead,
  applyHeadFlat,
  checkHeadBase,
  DEFAULT_HEAD_RECIPE,
  type HeadRecipe,
  headForward,
  headSpace,
  initParams,
  loadHead,
  paramShapes,
  saveHead,
} from '../../src/faces/learn/head.js';
import { normalize, Rng } from '../../src/util/rng.js';
import { reembedThroughHead, recognitionSpace } from '../../src/faces/learn/space.js';
import { Gallery } from '../../src/faces/gallery/gallery.js';
import { clusteredSet } from '../../src/faces/learn/synthetic.js';
import { loadTf } from '../../src/faces/learn/tf.js';
import { makeBatches } from '../../src/faces/learn/train.js';
import { dot } from '../../src/faces/metrics.js';

const dir = mkdtempSync(join(tmpdir(), 'vigil-heads-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const perturbed = (recipe: HeadRecipe, d: number) => {
  const p = initParams(recipe, d);
  for (const v of Object.values(p))
    for (let i = 0; i < v.length; i++) v[i] = (v[i] as number) + 0.05 * Math.cos(i);
  return p;
};

describe('projection heads', () => {
  it('an untrained linear head is the identity map (outputs = inputs)', () => {
    const x = clusteredSet({ identities: 2, perIdentity: 2, dim: 16 }).map((s) => s.embedding);
    const recipe = { ...DEFAULT_HEAD_RECIPE };
    const head = {
      manifest: { name: 'h', recipe, inDim: 16, outDim: 16 } as never,
      params: initParams(recipe, 16),
    };
    applyHead(head, x).forEach((y, i) => {
      expect(Array.from(y).map((v) => v.toFixed(5))).toEqual(
        Array.from(x[i] as Float32Array).map((v) => v.toFixed(5)),
      );
    });
  });

  it('applyHead (plain arrays) equals the tfjs forward pass, for linear and mlp heads; outputs are unit length', async () => {
    const tf = await loadTf();
    const x = clusteredSet({ identities: 3, perIdentity: 2, dim: 12 }).map((s) => s.embedding);
    for (const [kind, outDim] of [
      ['linear', 12],
      ['linear', 5],
      ['mlp', 12],
      ['mlp', 6],
    ] as const) {
      const recipe: HeadRecipe = { ...DEFAULT_HEAD_RECIPE, kind, outDim, hiddenDim: 7 };
      const params = perturbed(recipe, 12);
      const shapes = paramShapes(recipe, 12);
      const head = { manifest: { name: 'h', recipe, inDim: 12, outDim } as never, params };
      const js = applyHead(head, x);
      const vars = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, tf.tensor(v, shapes[k])]));
      const X = tf.tensor2d(
        x.flatMap((v) => Array.from(v)),
        [x.length, 12],
      );
      const y = headForward(tf, kind, vars, X);
      const tfv = (await y.data()) as Float32Array;
      js.forEach((v, i) => {
        expect(Math.hypot(...Array.from(v))).toBeCloseTo(1, 5);
        for (let j = 0; j < outDim; j++) expect(v[j]).toBeCloseTo(tfv[i * outDim + j] as number, 4);
      });
      const flat = applyHeadFlat(head, Float32Array.from(x.flatMap((v) => Array.from(v))), x.length);
      expect(Array.from(flat.subarray(0, outDim))).toEqual(Array.from(js[0] as Float32Array));
      tf.dispose([y, X, ...Object.values(vars)]);
    }
  });

  it('saves and loads a head; its space names the head and the weights; a head of another model is refused', () => {
    const recipe: HeadRecipe = { ...DEFAULT_HEAD_RECIPE, kind: 'mlp', hiddenDim: 4 };
    const params = perturbed(recipe, 8);
    const saved = saveHead(
      join(dir, 'h8'),
      {
        base: { model: 'faceres', space: 'box-1.3', dim: 8 },
        data: { dirs: ['x'], trainIdentities: ['a', 'b'], valIdentities: [], trainImages: 4, valImages: 0 },
        created: 'now',
        recipe,
        inDim: 8,
        outDim: 8,
        threshold: { similarity: 0.6, far: 0.01, tar: 1, measuredOn: 'training pairs' },
      },
      params,
    );
    const back = loadHead(join(dir, 'h8'));
    expect(back.manifest.name).toBe('h8');
    expect(back.manifest.sha256).toBe(saved.manifest.sha256);
    expect(headSpace(back)).toBe(`box-1.3+h8@${saved.manifest.sha256.slice(0, 8)}`);
    const x = [clusteredSet({ identities: 1, perIdentity: 1, dim: 8 })[0]?.embedding as Float32Array];
    expect(applyHead(back, x)).toEqual(applyHead(saved, x));
    expect(() => checkHeadBase(back, 'faceres', 'box-1.3', 8)).not.toThrow();
    expect(() => checkHeadBase(back, 'faceapi-resnet34', 'box-1.3', 128)).toThrow(/was trained on faceres/);
    expect(() => applyHead(back, [new Float32Array(3)])).toThrow(/takes 8-d/);
    expect(() => loadHead(join(dir, 'missing'))).toThrow(/no vigil-head/);
  });
});

describe('selecting a head for matching (recognize.head)', () => {
  it('recognitionSpace names the head space and threshold; reembedThroughHead moves a gallery into it', () => {
    const recipe: HeadRecipe = { ...DEFAULT_HEAD_RECIPE };
    const params = perturbed(recipe, 1024);
    const path = join(dir, 'faceres-test');
    const head = saveHead(
      path,
      {
        base: { model: 'faceres', space: 'box-1.3', dim: 1024 },
        data: { dirs: [], trainIdentities: [], valIdentities: [], trainImages: 0, valImages: 0 },
        created: 'now',
        recipe,
        inDim: 1024,
        outDim: 1024,
        threshold: { similarity: 0.61, far: 0.01, tar: 0.9, measuredOn: 'training pairs' },
      },
      params,
    );
    const plain = recognitionSpace({ model: 'faceres', align: false, context: 1.3 });
    expect(plain.version).toBe('box-1.3');
    expect(plain.head).toBeUndefined();
    const sp = recognitionSpace({ model: 'faceres', align: false, context: 1.3, head: path });
    expect(sp).toMatchObject({ model: 'faceres', version: headSpace(head), dim: 1024, threshold: 0.61 });
    expect(
      recognitionSpace({ model: 'faceres', align: false, context: 1.3, head: path, threshold: 0.7 })
        .threshold,
    ).toBe(0.7);
    expect(() => recognitionSpace({ model: 'faceres', align: true, context: 1.2, head: path })).toThrow(
      /trained on faceres \(box-1\.3/,
    );

    const file = join(dir, 'g.db');
    const rng = new Rng(5);
    const v = normalize(Float32Array.from({ length: 1024 }, () => rng.normal()));
    const photo = {
      image: Buffer.from('x'),
      thumbnail: Buffer.from('x'),
      box: [0, 0, 1, 1] as [number, number, number, number],
      landmarks: [],
      embedding: v,
    };
    const base = new Gallery(file, { model: 'faceres', version: 'box-1.3', dim: 1024 });
    base.addPerson('Ada', [photo]);
    base.close();
    const g = new Gallery(file, { model: 'faceres', version: sp.version, dim: sp.dim });
    expect(g.matrix().rows).toBe(0);
    expect(reembedThroughHead(g, head)).toEqual({ done: 1, missing: 0 });
    const m = g.matrix();
    expect(m.rows).toBe(1);
    const want = applyHead(head, [v])[0] as Float32Array;
    for (let i = 0; i < 1024; i += 97) expect(m.data[i]).toBeCloseTo(want[i] as number, 6);
    expect(reembedThroughHead(g, head)).toEqual({ done: 0, missing: 0 });
    g.close();
    const wrong = new Gallery(file, { model: 'faceres', version: 'box-1.3', dim: 1024 });
    expect(() => reembedThroughHead(wrong, head)).toThrow(/not the head's/);
    wrong.close();
  });
});

describe('identity splits never leak an identity', () => {
  const samples: Sample[] = ['a', 'b'].flatMap((set, si) =>
    clusteredSet({ identities: 6 - si, perIdentity: 3, dim: 4, seed: si + 1 }).map((l) => ({
      ...l,
      identity: `${set}/${l.identity}`,
      set,
      file: '',
      detected: true,
    })),
  );
  const withAug = [...samples, ...samples.map((s) => ({ ...s, augmented: 'gray' as const }))];

  it('train / held-out split: disjoint identities, every set represented on both sides, augmented copies only in training', () => {
    const { train, test } = splitIdentities(withAug, 0.34, 3);
    const tr = new Set(train.map((s) => s.identity));
    expect(test.some((s) => tr.has(s.identity))).toBe(false);
    expect(new Set(test.map((s) => s.set))).toEqual(new Set(['a', 'b']));
    expect(test.some((s) => s.augmented)).toBe(false);
    expect(train.some((s) => s.augmented)).toBe(true);
  });

  it('k-fold: each identity is tested exactly once, never trained on in its fold', () => {
    const folds = kFoldIdentities(withAug, 2, 9);
    const tested = folds.flatMap((f) => [...new Set(f.test.map((s) => s.identity))]);
    expect(tested.sort()).toEqual([...new Set(samples.map((s) => s.identity))].sort());
    for (const f of folds) {
      const tr = new Set(f.train.map((s) => s.identity));
      expect(f.test.some((s) => tr.has(s.identity) || s.augmented)).toBe(false);
      expect(new Set(f.test.map((s) => s.set)).size).toBe(2); // stratified
    }
  });

  it('FaceNet batches hold several identities, at most perIdentity images each', () => {
    const labels = Int32Array.from({ length: 60 }, (_, i) => i % 10);
    const batches = makeBatches(
      labels,
      { ...DEFAULT_HEAD_RECIPE, batchSize: 16, perIdentity: 4 },
      new Rng(1),
    );
    expect(batches.flat().length).toBe(40);
    for (const b of batches) {
      const per = new Map<number, number>();
      for (const i of b) per.set(labels[i] as number, (per.get(labels[i] as number) ?? 0) + 1);
      expect(per.size).toBeGreaterThan(1);
      expect(Math.max(...per.values())).toBeLessThanOrEqual(4);
    }
  });

  it('rank-1 with any score; summaries average over splits', () => {
    const items = clusteredSet({
      identities: 4,
      perIdentity: 3,
      dim: 16,
      nuisance: 0.05,
      noise: 0.05,
      seed: 4,
    });
    expect(oneShotRank1(items, dot)).toEqual({ rank1: 1, queries: 8 });
    expect(oneShotRank1(items, (a, b) => -dot(a, b)).rank1).toBe(0); // the farthest is never oneself here
    const fig = (t: number) => ({
      rank1: 1,
      queries: 1,
      tarAtFar1: t,
      tarAtFar01: t,
      auc: 1,
      genuine: 2,
      impostor: 4,
      op: { threshold: 0, far: 0, tar: t },
    });
    const s = summarize([
      {
        trainIdentities: [],
        testIdentities: [],
        bySet: { x: { raw: fig(0.5), head: fig(1), verifier: fig(1) } },
      },
      {
        trainIdentities: [],
        testIdentities: [],
        bySet: { x: { raw: fig(1), head: fig(1), verifier: fig(0) } },
      },
    ]);
    expect(s.find((r) => r.method === 'raw')?.tarAtFar1).toBe(0.75);
    expect(s.find((r) => r.method === 'verifier')?.tarAtFar1).toBe(0.5);
    // per split against the raw embedding: head better once and equal once, verifier better once, worse once
    expect(s.find((r) => r.method === 'head')?.vsRaw).toEqual({ better: 1, worse: 0, same: 1 });
    expect(s.find((r) => r.method === 'verifier')?.vsRaw).toEqual({ better: 1, worse: 1, same: 0 });
  });
});
