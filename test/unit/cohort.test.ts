import { describe, expect, it } from 'vitest';
import { asNorm, Cohort, MIN_STD, topKStats } from '../../src/faces/cohort.js';
import { normalize, Rng } from '../../src/util/rng.js';

const DIM = 32;
const rng = new Rng(7);
const face = () => normalize(Float32Array.from({ length: DIM }, () => rng.normal()));
const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * (b[i] as number), 0);

describe('adaptive s-norm', () => {
  it('takes the mean and spread of the k highest cohort similarities', () => {
    const cohort = Array.from({ length: 20 }, face);
    const q = face();
    const top = cohort
      .map((c) => dot(q, c))
      .sort((a, b) => b - a)
      .slice(0, 5);
    const mean = top.reduce((a, b) => a + b, 0) / 5;
    const std = Math.sqrt(top.reduce((a, b) => a + (b - mean) ** 2, 0) / 5);
    const s = topKStats(q, cohort, 5);
    expect(s.mean).toBeCloseTo(mean, 6);
    expect(s.std).toBeCloseTo(Math.max(MIN_STD, std), 6);
    // k beyond the cohort: all of it
    expect(topKStats(q, cohort.slice(0, 3), 10).mean).toBeCloseTo(
      cohort.slice(0, 3).reduce((a, c) => a + dot(q, c), 0) / 3,
      6,
    );
  });

  it('floors the spread so near-equal cohort scores do not explode the score', () => {
    const c = face();
    expect(topKStats(c, [c, c, c], 3)).toEqual({ mean: expect.closeTo(1, 5), std: MIN_STD });
  });

  it('judges a raw score against both sides: higher cohort similarity, lower normalised score', () => {
    const t = { mean: 0.4, std: 0.05 };
    const typical = asNorm(0.6, { mean: 0.4, std: 0.05 }, t);
    expect(typical).toBeCloseTo(4, 6); // (0.2/0.05 + 0.2/0.05) / 2
    expect(asNorm(0.6, { mean: 0.5, std: 0.05 }, t)).toBeLessThan(typical);
  });

  it('refuses an empty cohort or a k below 1, naming the problem', () => {
    expect(() => topKStats(face(), [], 5)).toThrow(/empty cohort/);
    expect(() => topKStats(face(), [face()], 0)).toThrow(/k must be >= 1/);
  });
});

describe('Cohort: generic faces plus the site, bounded', () => {
  const generic = Array.from({ length: 4 }, face);
  const opts = { generic, maxSite: 3, k: 2, maxEnrolledSimilarity: 0.6 };

  it('keeps the generic faces and at most maxSite site faces, the newest', () => {
    const c = new Cohort(opts);
    const site = Array.from({ length: 5 }, face);
    for (const [i, e] of site.entries()) expect(c.addSite(`cluster:${i}`, e, 0.1)).toBe(true);
    expect(c.size).toBe(4 + 3);
    expect(c.siteSize).toBe(3);
    const members = c.members();
    for (const g of generic) expect(members).toContain(g);
    // the two oldest site faces went
    const kept = members.slice(4).map((m) => site.findIndex((s) => dot(s, m) > 0.9999));
    expect(kept).toEqual([2, 3, 4]);
  });

  it('refreshes a site face under the same key, and bumps its version on every change', () => {
    const c = new Cohort(opts);
    const v0 = c.version;
    c.addSite('cluster:1', face(), 0.1);
    c.addSite('cluster:1', face(), 0.1);
    expect(c.siteSize).toBe(1);
    expect(c.version).toBe(v0 + 2);
    c.removeSite('cluster:1');
    expect(c.siteSize).toBe(0);
    expect(c.version).toBe(v0 + 3);
  });

  it('never takes a face an enrolled person matches too well (their own poor looks)', () => {
    const c = new Cohort(opts);
    expect(c.addSite('cluster:9', face(), 0.6)).toBe(false);
    expect(c.siteSize).toBe(0);
  });

  it('stores site faces at unit length (cluster means are shorter)', () => {
    const c = new Cohort(opts);
    const e = face().map((x) => x * 0.5);
    c.addSite('cluster:1', e, 0);
    expect(dot(c.members()[4] as Float32Array, c.members()[4] as Float32Array)).toBeCloseTo(1, 5);
  });

  it('rebuilds its site part from the unknowns, newest clusters kept, and rejects bad options', () => {
    const c = new Cohort(opts);
    const clusters = Array.from({ length: 5 }, (_, i) => ({ clusterId: 10 + i, embedding: face() }));
    const store = { centroids: (limit: number) => [...clusters].reverse().slice(0, limit) };
    expect(c.syncFromUnknowns(store, () => 0)).toBe(3);
    expect(c.syncFromUnknowns(store, () => 0)).toBe(3); // idempotent
    expect(c.syncFromUnknowns(store, (e) => (e === clusters[4]?.embedding ? 0.9 : 0))).toBe(2);
    expect(() => new Cohort({ ...opts, maxSite: -1 })).toThrow(/maxSite/);
    expect(() => new Cohort({ ...opts, generic: [], maxSite: 0 })).toThrow(/no generic faces/);
  });

  it('decides a typical query as the raw threshold does', () => {
    const c = new Cohort({ ...opts, generic: Array.from({ length: 30 }, face), k: 5 });
    const typical = c.typicalStats();
    const t = face();
    const d = c.decide(0.6, face(), t, 0.6);
    // the threshold is the raw one normalised with the typical face's statistics
    expect(d.threshold).toBeCloseTo(asNorm(0.6, typical, c.stats(t)), 9);
  });
});
