import { describe, expect, it } from 'vitest';
import {
  allocate,
  CapacityTracker,
  capacityFromDrops,
  preference,
  REGROW_AFTER,
} from '../../src/cluster/capacity.js';

describe('cluster capacity', () => {
  it('takes maxCameras while keeping up, no more while dropping a little, the share it kept up with while dropping much', () => {
    expect(capacityFromDrops(8, 3, 0)).toBe(8);
    expect(capacityFromDrops(8, 3, 0.05)).toBe(3);
    expect(capacityFromDrops(8, 3, 0.3)).toBe(2);
    expect(capacityFromDrops(8, 0, 0.3)).toBe(0);
    expect(capacityFromDrops(2, 5, 0.05)).toBe(2);
    // 60 % of the frames of 10 cameras dropped: about 4 kept up with; a small overload still sheds one
    expect(capacityFromDrops(16, 10, 0.6)).toBe(4);
    expect(capacityFromDrops(16, 10, 0.11)).toBe(9);
    expect(capacityFromDrops(16, 1, 0.11)).toBe(0);
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

describe('cluster capacity over time (CapacityTracker)', () => {
  it('settles below the count that overloaded the node instead of cycling, and regrows slowly', () => {
    const t = new CapacityTracker(16);
    expect(t.capacity).toBe(16);
    // 10 cameras drop 10.5 %: one fewer; the figure stays until the next measurement
    expect(t.measure(10, 0.105)).toBe(9);
    expect(t.capacity).toBe(9);
    // at 9 it keeps up: it stays at 9 (the ceiling), not back to 16
    expect(t.measure(9, 0)).toBe(9);
    for (let i = 0; i < REGROW_AFTER - 2; i++) expect(t.measure(9, 0)).toBe(9);
    // after REGROW_AFTER good measurements in a row it tries one more
    expect(t.measure(9, 0)).toBe(10);
    // a little drop at 10: it keeps what it runs, the ceiling is 10
    expect(t.measure(10, 0.05)).toBe(10);
    expect(t.measure(10, 0)).toBe(10);
    // never above maxCameras, never below zero
    const small = new CapacityTracker(2);
    expect(small.measure(0, 0.5)).toBe(0);
    for (let i = 0; i < REGROW_AFTER; i++) small.measure(0, 0);
    expect(small.capacity).toBe(1);
  });
});
