/**
 * Average-linkage arithmetic on sums of L2-normalised vectors (pure functions). A cluster is kept as
 * (n, S = sum of its members); then, exactly:
 *   mean similarity of x to the members        = x . S / n
 *   mean similarity between members of A and B = S_A . S_B / (n_A n_B)
 *   mean similarity within A (pairs i != j)    = (|S_A|^2 - n_A) / (n_A (n_A - 1))
 * so joining and merging by average linkage costs one dot product per cluster.
 */

export interface ClusterSum {
  n: number;
  sum: Float64Array;
}

/** A cluster as the store keeps it in memory: its row id with its count and sum. */
export interface StoredClusterSum extends ClusterSum {
  id: number;
}

/** A copy of `v` scaled to unit length (a zero vector stays zero). */
export function l2Normalised(v: Float32Array): Float32Array {
  const x = Float32Array.from(v);
  let norm = 0;
  for (let i = 0; i < x.length; i++) norm += (x[i] as number) ** 2;
  const inv = 1 / Math.max(Math.sqrt(norm), 1e-12);
  for (let i = 0; i < x.length; i++) x[i] = (x[i] as number) * inv;
  return x;
}

/** Adds `x` into `sum` element by element (a cluster's sum growing by a member or a cluster). */
export function addInto(sum: Float64Array, x: ArrayLike<number>): void {
  for (let i = 0; i < sum.length; i++) sum[i] = (sum[i] as number) + (x[i] as number);
}

export function dotF(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) * (b[i] as number);
  return s;
}

/** Mean cosine similarity of a vector to a cluster's members. */
export function linkToCluster(x: ArrayLike<number>, c: ClusterSum): number {
  return c.n ? dotF(x, c.sum) / c.n : Number.NEGATIVE_INFINITY;
}

/** Mean cosine similarity between the members of two clusters (average linkage). */
export function linkClusters(a: ClusterSum, b: ClusterSum): number {
  return a.n && b.n ? dotF(a.sum, b.sum) / (a.n * b.n) : Number.NEGATIVE_INFINITY;
}

/** Mean pairwise similarity within a cluster (1 for a single member). */
export function cohesion(c: ClusterSum): number {
  if (c.n < 2) return 1;
  return (dotF(c.sum, c.sum) - c.n) / (c.n * (c.n - 1));
}

/** The cluster a vector should join: the best average link at or above `threshold`, else none. */
export function bestCluster<K>(
  x: ArrayLike<number>,
  clusters: Iterable<[K, ClusterSum]>,
  threshold: number,
): { key: K; similarity: number } | undefined {
  let best: { key: K; similarity: number } | undefined;
  for (const [key, c] of clusters) {
    const s = linkToCluster(x, c);
    if (s >= threshold && (!best || s > best.similarity)) best = { key, similarity: s };
  }
  return best;
}

/**
 * Farthest-point selection: starts from the member most similar to the cluster (the most typical face)
 * and adds, in turn, the member least similar to those chosen (varied angles, lighting). Indices.
 */
export function diverseSubset(vectors: Float32Array[], k: number): number[] {
  if (vectors.length <= k) return vectors.map((_, i) => i);
  const dim = vectors[0]?.length ?? 0;
  const sum = new Float64Array(dim);
  for (const v of vectors) for (let i = 0; i < dim; i++) sum[i] = (sum[i] as number) + (v[i] as number);
  let first = 0;
  let best = Number.NEGATIVE_INFINITY;
  vectors.forEach((v, i) => {
    const s = dotF(v, sum);
    if (s > best) {
      best = s;
      first = i;
    }
  });
  const chosen = [first];
  const nearest = vectors.map((v) => dotF(v, vectors[first] as Float32Array));
  while (chosen.length < k) {
    let pick = -1;
    let low = Number.POSITIVE_INFINITY;
    nearest.forEach((s, i) => {
      if (!chosen.includes(i) && s < low) {
        low = s;
        pick = i;
      }
    });
    if (pick < 0) break;
    chosen.push(pick);
    vectors.forEach((v, i) => {
      nearest[i] = Math.max(nearest[i] as number, dotF(v, vectors[pick] as Float32Array));
    });
  }
  return chosen;
}
