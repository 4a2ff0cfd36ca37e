import { addInto, bestCluster, linkClusters, linkToCluster, type StoredClusterSum } from './cluster.js';
import type { UnknownRepository } from './repository.js';
import type { JoinedBy, SightingInput } from './types.js';

/** Where a sighting goes: an existing cluster (by its track or by similarity) or a new one. */
export interface ClusterChoice {
  target: StoredClusterSum | undefined;
  how: JoinedBy;
  similarity: number;
}

/**
 * The clusters of the store's space in memory (count and sum each, as in unknown_clusters) and the
 * online average-linkage clustering on them: choosing a sighting's cluster, growing or creating it,
 * merging clusters that now match, and recomputing a cluster after its sightings were dropped.
 * Every change is written through the repository; callers run them inside a transaction.
 */
export class ClusterIndex {
  private cache: Map<number, StoredClusterSum> | undefined;
  private dataVersion = -1;

  constructor(
    private readonly repo: UnknownRepository,
    private readonly thresholds: {
      join: number;
      merge: number;
      trackLinkMs: number;
      trackLinkMinSimilarity: number;
    },
  ) {}

  /** The clusters of this space, reloaded when another connection (a CLI) changed the database. */
  all(): Map<number, StoredClusterSum> {
    const v = this.repo.dataVersion();
    if (this.cache && v === this.dataVersion) return this.cache;
    this.dataVersion = v;
    this.cache = new Map(this.repo.clusterSums().map((c) => [c.id, c]));
    return this.cache;
  }

  /** Forgets the in-memory sums (after a rollback they may hold the undone change). */
  invalidate(): void {
    this.cache = undefined;
  }

  /** Drops one cluster from memory (its row is gone). */
  forget(id: number): void {
    this.cache?.delete(id);
  }

  /** Records that the database, as this connection last wrote it, is what memory holds. */
  markCurrent(): void {
    this.dataVersion = this.repo.dataVersion();
  }

  /**
   * The cluster of the sighting's track (same camera and track id within trackLinkMs) when `x` is
   * similar enough to it, else the best-matching cluster at or above the join threshold, else none.
   */
  choose(s: SightingInput, x: Float32Array): ClusterChoice {
    const clusters = this.all();
    const { trackLinkMs, trackLinkMinSimilarity } = this.thresholds;
    const recent = this.repo.recentTrackCluster(s.camera, s.trackId, s.time - trackLinkMs);
    const tc = recent !== undefined ? clusters.get(recent) : undefined;
    if (tc) {
      const sim = linkToCluster(x, tc);
      if (sim >= trackLinkMinSimilarity) return { target: tc, how: 'track', similarity: sim };
    }
    const best = bestCluster(x, clusters, this.thresholds.join);
    if (best) return { target: clusters.get(best.key), how: 'similar', similarity: best.similarity };
    return { target: undefined, how: 'new', similarity: Number.NaN };
  }

  /** Adds member `x`, seen at `time`, to `target`; returns the cluster's id. */
  grow(target: StoredClusterSum, x: Float32Array, time: number): number {
    addInto(target.sum, x);
    target.n++;
    this.repo.saveJoined(target, time);
    return target.id;
  }

  /** Starts a cluster with member `x`, seen at `time`; returns its id. */
  create(x: Float32Array, time: number): number {
    const id = this.repo.insertCluster(x, time);
    this.all().set(id, { id, n: 1, sum: Float64Array.from(x) });
    return id;
  }

  /**
   * Merges every cluster that `id` now matches (average linkage >= merge threshold) into one, keeping
   * the oldest (smallest) id; repeats until nothing more merges. Returns the surviving id and the ids
   * merged away.
   */
  mergeInto(id: number): { id: number; gone: number[] } {
    const clusters = this.all();
    const gone: number[] = [];
    let cur = clusters.get(id);
    while (cur) {
      const best = this.bestMergePartner(cur, clusters);
      if (!best) break;
      const [keep, lost] = best.id < cur.id ? [best, cur] : [cur, best];
      this.absorb(keep, lost);
      gone.push(lost.id);
      cur = keep;
    }
    return { id: cur?.id ?? id, gone };
  }

  /** The other cluster `cur` matches best at or above the merge threshold, if any. */
  private bestMergePartner(
    cur: StoredClusterSum,
    clusters: Map<number, StoredClusterSum>,
  ): StoredClusterSum | undefined {
    let best: StoredClusterSum | undefined;
    let bestS = this.thresholds.merge;
    for (const c of clusters.values()) {
      if (c.id === cur.id) continue;
      const s = linkClusters(cur, c);
      if (s >= bestS) {
        bestS = s;
        best = c;
      }
    }
    return best;
  }

  /** Moves `gone`'s sightings, count and sum into `keep` and deletes `gone`. */
  private absorb(keep: StoredClusterSum, gone: StoredClusterSum): void {
    addInto(keep.sum, gone.sum);
    keep.n += gone.n;
    this.repo.moveSightings(gone.id, keep.id);
    const span = this.repo.jointSpan(keep.id, gone.id);
    this.repo.saveCluster(keep.id, keep.n, keep.sum, span.f, span.l);
    this.repo.deleteCluster(gone.id);
    this.all().delete(gone.id);
  }

  /** Recomputes a cluster's sum and span from its sightings (after deletions); drops it when empty. */
  recompute(id: number): void {
    const members = this.repo.members(id);
    if (!members.length) {
      this.repo.deleteCluster(id);
      this.cache?.delete(id);
      return;
    }
    const sum = new Float64Array(this.repo.space.dim);
    for (const m of members) addInto(sum, m.embedding);
    const first = Math.min(...members.map((m) => m.time));
    const last = Math.max(...members.map((m) => m.time));
    this.repo.saveCluster(id, members.length, sum, first, last);
    const c = this.cache?.get(id);
    if (c) {
      c.n = members.length;
      c.sum = sum;
    }
  }
}
