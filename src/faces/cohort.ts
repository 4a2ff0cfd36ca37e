/**
 * Score normalisation against a cohort of faces that belong to no enrolled person (adaptive
 * s-norm, AS-norm): a raw similarity s between a query q and an enrolled template t is judged
 * against how similar q and t are to strangers,
 *
 *   asNorm(s) = ((s - mu_q) / sd_q + (s - mu_t) / sd_t) / 2
 *
 * where mu and sd are the mean and standard deviation of the k highest similarities of q (or t)
 * to the cohort. A face that resembles everyone (a generic, blurred or tiny face) has a high mu_q,
 * so its raw score to any one person means less. docs/accuracy.md, "Cohort normalisation", has the
 * measurements, and why it is off by default.
 */
import { dot } from './metrics.js';

export interface CohortStats {
  /** Mean of the k highest cohort similarities. */
  mean: number;
  /** Their standard deviation, floored at MIN_STD (a cohort of near-equal scores would explode). */
  std: number;
}

/** Floor of a cohort's score spread: below it one cohort face more or less swings the score wildly. */
export const MIN_STD = 0.02;

/** Mean and spread of the `k` highest similarities of `e` to the cohort (k > cohort: all of it). */
export function topKStats(e: Float32Array, cohort: readonly Float32Array[], k: number): CohortStats {
  if (!cohort.length) throw new Error('cohort: empty cohort (no faces to normalise against)');
  if (!(k >= 1)) throw new Error(`cohort: k must be >= 1, got ${k}`);
  const top: number[] = [];
  for (const c of cohort) {
    const s = dot(e, c);
    if (top.length < k) {
      top.push(s);
      top.sort((a, b) => b - a);
    } else if (s > (top[top.length - 1] as number)) {
      top[top.length - 1] = s;
      top.sort((a, b) => b - a);
    }
  }
  const mean = top.reduce((a, b) => a + b, 0) / top.length;
  const variance = top.reduce((a, b) => a + (b - mean) ** 2, 0) / top.length;
  return { mean, std: Math.max(MIN_STD, Math.sqrt(variance)) };
}

/** Adaptive s-norm of a raw similarity, from the query's and the template's cohort statistics. */
export function asNorm(raw: number, q: CohortStats, t: CohortStats): number {
  return ((raw - q.mean) / q.std + (raw - t.mean) / t.std) / 2;
}

export interface CohortOptions {
  /** The shipped generic cohort: faces of no one a site enrols (always kept). */
  generic: readonly Float32Array[];
  /** Most faces taken from the site (its unknown faces); the oldest go first. */
  maxSite: number;
  /** Top-k cohort scores per face. */
  k: number;
  /**
   * A site face is taken only if no enrolled person matches it this well (raw cosine): an enrolled
   * person's own poor looks in the unknowns must not teach the cohort that they are a stranger.
   */
  maxEnrolledSimilarity: number;
}

/**
 * The cohort of one recognition space: the generic faces plus up to `maxSite` faces of the site's
 * own unknowns (one per unknown cluster: its centroid), so each site calibrates itself. `version`
 * changes with every change, so cached template statistics know when to recompute.
 */
export class Cohort {
  private readonly site: Array<{ key: string; e: Float32Array }> = [];
  private cached: Float32Array[] | undefined;
  version = 0;

  constructor(readonly opts: CohortOptions) {
    if (!Number.isInteger(opts.maxSite) || opts.maxSite < 0)
      throw new Error(`cohort: maxSite must be an integer >= 0, got ${opts.maxSite}`);
    if (!opts.generic.length && opts.maxSite === 0) throw new Error('cohort: no generic faces and maxSite 0');
  }

  get size(): number {
    return this.opts.generic.length + this.site.length;
  }

  get siteSize(): number {
    return this.site.length;
  }

  members(): readonly Float32Array[] {
    this.cached ??= [...this.opts.generic, ...this.site.map((s) => s.e)];
    return this.cached;
  }

  /**
   * Takes (or refreshes) a site face under `key` (an unknown cluster's id): false when an enrolled
   * person matches it too well (`enrolledSimilarity`). Beyond maxSite the oldest face goes.
   */
  addSite(key: string, e: Float32Array, enrolledSimilarity: number): boolean {
    if (enrolledSimilarity >= this.opts.maxEnrolledSimilarity) return false;
    const at = this.site.findIndex((s) => s.key === key);
    if (at >= 0) this.site.splice(at, 1);
    this.site.push({ key, e: unit(e) });
    while (this.site.length > this.opts.maxSite) this.site.shift();
    this.cached = undefined;
    this.version++;
    return true;
  }

  /**
   * The site part rebuilt from the unknowns store: one face per cluster (its mean), the `maxSite`
   * clusters seen last. The store is on disk, so the cohort is the same after a restart; clusters
   * merged or deleted there leave it. Returns how many faces were taken.
   */
  syncFromUnknowns(
    store: { centroids(limit: number): Array<{ clusterId: number; embedding: Float32Array }> },
    enrolledSimilarity: (e: Float32Array) => number,
  ): number {
    this.site.length = 0;
    this.cached = undefined;
    this.version++;
    // oldest first, so addSite's bound keeps the newest
    for (const c of store.centroids(this.opts.maxSite).reverse())
      this.addSite(`cluster:${c.clusterId}`, c.embedding, enrolledSimilarity(c.embedding));
    return this.site.length;
  }

  removeSite(key: string): void {
    const at = this.site.findIndex((s) => s.key === key);
    if (at < 0) return;
    this.site.splice(at, 1);
    this.cached = undefined;
    this.version++;
  }

  stats(e: Float32Array): CohortStats {
    return topKStats(e, this.members(), this.opts.k);
  }

  /** A typical face's statistics: the median, over the cohort's faces, of their stats to the rest. */
  typicalStats(): CohortStats {
    const m = this.members();
    if (m.length < 2) throw new Error('cohort: at least two faces are needed for typical statistics');
    const all = m.map((e, i) => topKStats(e, [...m.slice(0, i), ...m.slice(i + 1)], this.opts.k));
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1] as number;
    return { mean: median(all.map((s) => s.mean)), std: median(all.map((s) => s.std)) };
  }

  /**
   * The decision on normalised scores at the raw threshold's operating point: the threshold is the
   * raw one normalised as if the query were a typical face, so a query as similar to the cohort as
   * a typical face is decided as on raw scores, and one similar to everyone needs more.
   */
  decide(raw: number, query: Float32Array, template: Float32Array, rawThreshold: number) {
    const t = this.stats(template);
    const score = asNorm(raw, this.stats(query), t);
    const threshold = asNorm(rawThreshold, this.typicalStats(), t);
    return { score, threshold, accepted: score >= threshold };
  }
}

function unit(v: Float32Array): Float32Array {
  const n = Math.sqrt(dot(v, v));
  if (!(n > 0)) throw new Error('cohort: a zero embedding');
  return v.map((x) => x / n);
}
