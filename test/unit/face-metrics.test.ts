import { describe, expect, it } from 'vitest';
import { type Labeled, oneShot, pairScores, rocAuc, tarAtFar } from '../../src/faces/metrics.js';

const unit = (...v: number[]) => {
  const n = Math.hypot(...v);
  return new Float32Array(v.map((x) => x / n));
};

describe('face metrics', () => {
  it('TAR at FAR picks the threshold just above the allowed impostors', () => {
    const impostor = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95];
    const genuine = [0.5, 0.85, 0.92, 0.99];
    const r = tarAtFar(genuine, impostor, 0.1); // one impostor in ten may pass
    expect(r.threshold).toBeCloseTo(0.9, 5);
    expect(r.far).toBe(0.1);
    expect(r.tar).toBe(0.5);
    expect(tarAtFar(genuine, impostor, 0).threshold).toBeCloseTo(0.95, 5);
  });

  it('ROC AUC: 1 when separable, 0.5 when identical, ties count half', () => {
    expect(rocAuc([0.9, 0.8], [0.1, 0.2])).toBe(1);
    expect(rocAuc([0.5], [0.5])).toBe(0.5);
    expect(rocAuc([0.6, 0.2], [0.4])).toBe(0.5);
  });

  it('pairs and one-shot identification with strangers', () => {
    const items: Labeled[] = [
      { identity: 'a', embedding: unit(1, 0, 0) },
      { identity: 'a', embedding: unit(0.9, 0.1, 0) },
      { identity: 'b', embedding: unit(0, 1, 0) },
      { identity: 'b', embedding: unit(0.1, 0.9, 0.1) },
      { identity: 'c', embedding: unit(0, 0, 1) },
    ];
    const { genuine, impostor } = pairScores(items);
    expect(genuine.length).toBe(2);
    expect(impostor.length).toBe(8);
    const r = oneShot(items, 0.8);
    expect(r.rank1).toBe(1);
    expect(r.queries).toBe(2);
    expect(r.strangerQueries).toBe(5);
    expect(r.strangerFar).toBe(0); // nobody is similar enough to another identity
    expect(oneShot(items, 0).strangerFar).toBeGreaterThan(0.5);
  });
});
