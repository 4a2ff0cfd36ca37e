/** Verification and identification metrics on L2-normalised embeddings (pure functions). */

export function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) * (b[i] as number);
  return s;
}

export interface Labeled {
  identity: string;
  embedding: Float32Array;
}

/**
 * Scores of every unordered pair (cosine similarity by default, or any `score`), split into
 * genuine (same identity) and impostor pairs.
 */
export function pairScores(
  items: Labeled[],
  score: (a: Float32Array, b: Float32Array) => number = dot,
): { genuine: number[]; impostor: number[] } {
  const genuine: number[] = [];
  const impostor: number[] = [];
  for (let i = 0; i < items.length; i++)
    for (let j = i + 1; j < items.length; j++) {
      const a = items[i] as Labeled;
      const b = items[j] as Labeled;
      (a.identity === b.identity ? genuine : impostor).push(score(a.embedding, b.embedding));
    }
  return { genuine, impostor };
}

/**
 * The lowest threshold whose false accept rate on impostor pairs is <= `far` (a pair is accepted
 * when similarity >= threshold), and the true accept rate of genuine pairs there.
 */
export function tarAtFar(
  genuine: number[],
  impostor: number[],
  far: number,
): { threshold: number; tar: number; far: number } {
  const imp = [...impostor].sort((a, b) => b - a); // descending
  const allowed = Math.floor(far * imp.length); // impostors allowed above the threshold
  // threshold just above the (allowed)-th highest impostor score
  const threshold = imp.length === 0 ? -1 : allowed >= imp.length ? -1 : (imp[allowed] as number) + 1e-6;
  const tar = genuine.length ? genuine.filter((g) => g >= threshold).length / genuine.length : Number.NaN;
  const actualFar = imp.length ? imp.filter((s) => s >= threshold).length / imp.length : 0;
  return { threshold, tar, far: actualFar };
}

/** ROC AUC: the probability that a genuine pair scores above an impostor pair (ties count half). */
export function rocAuc(genuine: number[], impostor: number[]): number {
  if (!genuine.length || !impostor.length) return Number.NaN;
  const all = [...genuine.map((s) => ({ s, g: 1 })), ...impostor.map((s) => ({ s, g: 0 }))].sort(
    (a, b) => a.s - b.s,
  );
  let rankSum = 0;
  let i = 0;
  while (i < all.length) {
    let j = i;
    while (j < all.length && (all[j] as { s: number }).s === (all[i] as { s: number }).s) j++;
    const avgRank = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) if ((all[k] as { g: number }).g) rankSum += avgRank;
    i = j;
  }
  return (rankSum - (genuine.length * (genuine.length + 1)) / 2) / (genuine.length * impostor.length);
}

/**
 * One-shot identification: the first item of each identity is enrolled, every other item queried.
 * Returns rank-1 accuracy. Open set: each identity in turn is left out of the gallery and its items
 * queried; a best similarity >= `threshold` is a false accept (a stranger taken for someone).
 */
export function oneShot(
  items: Labeled[],
  threshold: number,
): {
  rank1: number;
  queries: number;
  strangerFar: number;
  strangerQueries: number;
  knownTar: number;
  strangerSims: number[];
  knownSims: number[];
} {
  const gallery = new Map<string, Float32Array>();
  for (const it of items) if (!gallery.has(it.identity)) gallery.set(it.identity, it.embedding);
  const queries = items.filter((it) => gallery.get(it.identity) !== it.embedding);
  let correct = 0;
  let knownAccepted = 0;
  const knownSims: number[] = [];
  const strangerSims: number[] = [];
  for (const q of queries) {
    let best = '';
    let bestSim = -2;
    for (const [id, e] of gallery) {
      const s = dot(q.embedding, e);
      if (s > bestSim) {
        bestSim = s;
        best = id;
      }
    }
    if (best === q.identity) correct++;
    knownSims.push(best === q.identity ? bestSim : Number.NEGATIVE_INFINITY); // a wrong best never counts as accepted
    if (best === q.identity && bestSim >= threshold) knownAccepted++;
  }
  let fa = 0;
  let strangerQueries = 0;
  for (const left of gallery.keys()) {
    for (const q of items.filter((it) => it.identity === left)) {
      strangerQueries++;
      let bestSim = -2;
      for (const [id, e] of gallery) if (id !== left) bestSim = Math.max(bestSim, dot(q.embedding, e));
      strangerSims.push(bestSim);
      if (bestSim >= threshold) fa++;
    }
  }
  return {
    rank1: queries.length ? correct / queries.length : Number.NaN,
    queries: queries.length,
    strangerFar: strangerQueries ? fa / strangerQueries : Number.NaN,
    strangerQueries,
    knownTar: queries.length ? knownAccepted / queries.length : Number.NaN,
    strangerSims,
    knownSims,
  };
}
