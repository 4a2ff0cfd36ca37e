import type { GalleryMatrix } from './gallery/gallery.js';
import { isIgnored, vetoedByNegative } from './gallery/feedback.js';
import { dot } from './metrics.js';

/** A calibrated decision threshold of one embedding space, with the measurements behind it. */
export interface Threshold {
  /** Cosine similarity at or above which two faces are the same person. */
  similarity: number;
  /** False accept rate measured at this threshold, and the data it was measured on. */
  far: number;
  tar: number;
  measuredOn: string[];
  date: string;
  /** Worst condition's stranger FAR per track (the track rule calibrated with the threshold). */
  farPerTrack?: number;
  /** The track rule (src/faces/outcome.ts) calibrated together with the threshold. */
  rule?: { nameLooks: number; minMargin: number; strongMargin: number };
}

export interface Identity {
  personId: number | null;
  /** The person's name, or "unknown" when no one is similar enough (open set). */
  label: string;
  similarity: number;
  /** A named look: its similarity above the next person's (1: nobody else in the gallery's top rows). */
  margin?: number;
  /** The best enrolled person even when below the threshold (for operators and debugging). */
  nearest?: { personId: number; name: string; similarity: number };
  /** An ignored face (operator feedback: a poster, a TV): neither named nor unknown, never alerted. */
  ignored?: boolean;
}

/** The face being identified, for the operator feedback rules (gallery/feedback.ts). */
export interface Look {
  embedding: Float32Array;
  /** The camera it was seen on (ignored faces may be per camera); absent for uploaded photos. */
  camera?: string;
}

/**
 * Identification (1:K, open set): the gallery rows the worker ranked, folded per person (several
 * photos each: the best counts), then accepted only at or above the calibrated threshold. With a
 * `look`, operator feedback applies: an ignored face is no one, and a person whose negative is
 * nearer than their own photos (by the margin) is passed over for the next person above the
 * threshold, else the face is unknown.
 */
export function identify(
  rows: number[],
  sims: number[],
  g: GalleryMatrix,
  threshold: number,
  look?: Look,
): Identity {
  const perPerson = new Map<number, number>();
  rows.forEach((r, i) => {
    const s = sims[i] as number;
    const p = g.rowPerson[r] as number;
    if (r < g.rows && !((perPerson.get(p) ?? -2) >= s)) perPerson.set(p, s);
  });
  const ranked = [...perPerson].sort((a, b) => b[1] - a[1]);
  const top = ranked[0];
  if (!top) return { personId: null, label: 'unknown', similarity: 0 };
  const nameOf = (p: number) => g.names.get(p) ?? `#${p}`;
  const nearest = { personId: top[0], name: nameOf(top[0]), similarity: top[1] };
  const unknown = { personId: null, label: 'unknown', similarity: top[1], nearest };
  const fb = look ? g.feedback : undefined;
  if (fb && look && isIgnored(fb, look.embedding, look.camera)) return { ...unknown, ignored: true };
  for (const [i, [p, s]] of ranked.entries()) {
    if (s < threshold) break;
    if (fb && look && vetoedByNegative(fb, p, s, look.embedding)) continue;
    // over the next person below (one passed over by their negative is out of the running)
    const margin = s - (ranked[i + 1]?.[1] ?? s - 1);
    return { personId: p, label: nameOf(p), similarity: s, margin, nearest };
  }
  return unknown;
}

export interface Verification {
  same: boolean;
  similarity: number;
  /** Euclidean distance of the L2-normalised embeddings: sqrt(2 - 2 * similarity). */
  distance: number;
  threshold: { similarity: number; distance: number };
}

/** Verification (1:1): is this face that person? */
export function verify(a: Float32Array, b: Float32Array, threshold: number): Verification {
  const s = Math.max(-1, Math.min(1, dot(a, b)));
  return {
    same: s >= threshold,
    similarity: s,
    distance: Math.sqrt(Math.max(0, 2 - 2 * s)),
    threshold: { similarity: threshold, distance: Math.sqrt(Math.max(0, 2 - 2 * threshold)) },
  };
}

/** Best rows of the gallery for one embedding, computed here (fallback when the worker's gallery version is gone). */
export function topRows(e: Float32Array, g: GalleryMatrix, k: number): { rows: number[]; sims: number[] } {
  const best: Array<{ r: number; s: number }> = [];
  for (let r = 0; r < g.rows; r++) {
    const s = dot(e, g.data.subarray(r * g.dim, (r + 1) * g.dim));
    if (best.length < k || s > (best[best.length - 1] as { s: number }).s) {
      best.push({ r, s });
      best.sort((a, b) => b.s - a.s);
      if (best.length > k) best.pop();
    }
  }
  return { rows: best.map((b) => b.r), sims: best.map((b) => b.s) };
}
