import { describe, expect, it } from 'vitest';
import { allocate, capacityFromDrops, preference } from '../../src/cluster/capacity.js';

describe('cluster capacity', () => {
  it('takes maxCameras while keeping up, no more while dropping a little, one fewer while dropping much', () => {
    expect(capacityFromDrops(8, 3, 0)).toBe(8);
    expect(capacityFromDrops(8, 3, 0.05)).toBe(3);
    expect(capacityFromDrops(8, 3, 0.3)).toBe(2);
    expect(capacityFromDrops(8, 0, 0.3)).toBe(0);
    expect(capacityFromDrops(2, 5, 0.05)).toBe(2);
  });

  it('shares cameras round-robin within each node capacity', () => {
    const caps = new Map([
      ['n2', 16],
      ['n1', 16],
      ['n3', 1],
    ]);
    expect(Object.fromEntries(allocate(6, caps))).toEqual({ n1: 3, n2: 2, n3: 1 });
    expect(
      Object.fromEntries(
        allocate(
          500,
          new Map([
            ['a', 10],
            ['b', 10],
          ]),
        ),
      ),
    ).toEqual({ a: 10, b: 10 });
    const forty = new Map(Array.from({ length: 40 }, (_, i) => [`node-${String(i).padStart(2, '0')}`, 16]));
    const shares = [...allocate(500, forty).values()];
    expect(shares.reduce((a, b) => a + b, 0)).toBe(500);
    expect(Math.max(...shares) - Math.min(...shares)).toBeLessThanOrEqual(1);
  });

  it('orders free cameras differently per node', () => {
    const cams = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6'];
    const order = (n: string) => [...cams].sort((a, b) => preference(n, a) - preference(n, b)).join();
    expect(new Set(['n1', 'n2', 'n3'].map(order)).size).toBeGreaterThan(1);
  });
});
