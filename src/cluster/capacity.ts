/**
 * How many cameras a node takes, and how the cluster's cameras are shared among its live nodes.
 * Every node computes the same allocation from the same view (the node heartbeats), so each knows
 * its own share without a coordinator; the KV compare-and-set settles any race.
 */

/** Above this share of dropped frames a node gives cameras back; above `full` it takes no more. */
export const DROP_SHED = 0.1;
export const DROP_FULL = 0.02;

/**
 * A node's capacity from its own measurements: maxCameras while it keeps up, what it runs while it
 * drops a little; while it drops much, the share of its cameras it kept up with (a node dropping
 * 60 % of the frames of 10 cameras keeps up with about 4), at least one fewer, never below zero.
 */
export function capacityFromDrops(maxCameras: number, held: number, dropRate: number): number {
  if (dropRate > DROP_SHED)
    return Math.max(0, Math.min(maxCameras, held - 1, Math.round(held * (1 - dropRate))));
  if (dropRate > DROP_FULL) return Math.min(maxCameras, held);
  return maxCameras;
}

/** Good measurements in a row after which a node that once overloaded tries one camera more. */
export const REGROW_AFTER = 6;

/**
 * A node's capacity decided once per fresh drop measurement (capacityFromDrops on each), with a
 * memory: what an overloading count of cameras left as capacity stays the ceiling until
 * REGROW_AFTER good measurements in a row let it try one more. Without it a node sheds a camera
 * on every heartbeat from one stale figure, and takes them all back on the first good one: it
 * cycles instead of settling.
 */
export class CapacityTracker {
  private ceiling: number;
  private good = 0;
  private current: number;

  constructor(private readonly maxCameras: number) {
    this.ceiling = maxCameras;
    this.current = maxCameras;
  }

  /** The capacity until the next measurement. */
  get capacity(): number {
    return this.current;
  }

  /** A fresh measurement: `dropRate` of the frames while it ran `held` cameras. */
  measure(held: number, dropRate: number): number {
    if (dropRate > DROP_FULL) {
      this.good = 0;
      this.ceiling = Math.min(this.ceiling, capacityFromDrops(this.maxCameras, held, dropRate));
    } else if (++this.good >= REGROW_AFTER && this.ceiling < this.maxCameras && held >= this.ceiling) {
      this.good = 0;
      this.ceiling++;
    }
    this.current = Math.min(this.ceiling, capacityFromDrops(this.maxCameras, held, dropRate));
    return this.current;
  }
}

/**
 * Cameras per node: one at a time round-robin over the nodes (sorted by name) that still have
 * room, so shares differ by at most one among nodes not at capacity. Sum <= cameras.
 */
export function allocate(cameras: number, capacities: ReadonlyMap<string, number>): Map<string, number> {
  const names = [...capacities.keys()].sort();
  const share = new Map(names.map((n) => [n, 0]));
  let left = cameras;
  while (left > 0) {
    let gave = false;
    for (const n of names) {
      if (left === 0) break;
      const s = share.get(n) as number;
      if (s < (capacities.get(n) as number)) {
        share.set(n, s + 1);
        left--;
        gave = true;
      }
    }
    if (!gave) break;
  }
  return share;
}

/** Rendezvous order: each node prefers different free cameras, so fewer creates collide. */
export function preference(node: string, camera: string): number {
  let h = 2166136261;
  for (const ch of `${node}\u0000${camera}`) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  return h;
}
