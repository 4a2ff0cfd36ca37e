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
}

function unit(v: Float32Array): Float32Array {
  const n = Math.sqrt(dot(v, v));
  if (!(n > 0)) throw new Error('cohort: a zero embedding');
  return v.map((x) => x / n);
}
