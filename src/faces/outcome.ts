import type { Detection } from '../inference/contract.js';

/**
 * What a track is, from the looks it had (docs/accuracy.md, "Evidence per track"):
 * - named: enough good looks agree on one enrolled person, by a margin over the next person;
 * - unknown: enough good looks matched nobody, clearly (not a near miss);
 * - uncertain: anything else (near misses, a name seen once, poor looks only). Shown, never alerted.
 */
export type Outcome = 'named' | 'unknown' | 'uncertain';

/** The per-look rule and the track rule (recognize stage config; defaults in DEFAULT_EVIDENCE). */
export interface EvidenceRule {
  /** Faces narrower than this (frame px) are embedded and shown but do not vote. */
  voteMinFacePx: number;
  /** Looks turned further than this (pose(), 0 frontal .. ~1 profile) do not vote. */
  maxPose: number;
  /** A look names a person only this far (cosine) above the second person. */
  minMargin: number;
  /** Good looks that must agree on a person before the track is named. */
  nameLooks: number;
  /** One good look this far above the threshold names the track at once. */
  strongMargin: number;
  /** Good looks matching nobody (clearly) before the track is unknown. */
  unknownLooks: number;
  /** A look below the threshold by less than this is a near miss: it makes no stranger. */
  nearMiss: number;
  /** Good looks considered (the most recent). */
  window: number;
}

export const DEFAULT_EVIDENCE: EvidenceRule = {
  voteMinFacePx: 24,
  maxPose: 1.3,
  minMargin: 0.05,
  nameLooks: 2,
  strongMargin: 0.12,
  unknownLooks: 2,
  nearMiss: 0.04,
  window: 7,
};

/** One look at a track's face: what identify() said and whether the face was good enough to vote. */
export interface Vote {
  personId: number | null;
  label: string;
  similarity: number;
  /** Similarity above the next-best person (1 when there is none); named looks only. */
  margin?: number;
  /** Good enough to vote (size, pose); absent: yes. */
  good?: boolean;
}

/**
 * Head turn from the detector's keypoints (0: right eye, 1: left eye, 2: nose, as BlazeFace and the
 * 5-point detectors give them) and the box: how far the nose sits from the eyes' midpoint,
 * horizontally, in quarter face widths. 0 frontal; ~1 near profile, where one-shot embeddings fall
 * apart. The eye distance is not the unit: on small and turned faces it collapses and the ratio
 * explodes. null: no keypoints.
 */
export function pose(d: Pick<Detection, 'box' | 'landmarks'>): number | null {
  const [r, l, n] = d.landmarks;
  const w = d.box[2] - d.box[0];
  if (!r || !l || !n || w <= 0) return null;
  return (Math.abs(n[0] - (r[0] + l[0]) / 2) / w) * 4;
}

/** Why a look does not vote, or null when it is good. Blur is not measured (docs/accuracy.md). */
export function poorLook(
  d: Pick<Detection, 'box' | 'landmarks'>,
  rule: EvidenceRule,
): 'small' | 'turned' | null {
  if (d.box[2] - d.box[0] < rule.voteMinFacePx) return 'small';
  const p = pose(d);
  return p !== null && p > rule.maxPose ? 'turned' : null;
}

export interface TrackDecision {
  outcome: Outcome;
  /** The name (named), "unknown", "uncertain" or "ignored", with the best similarity behind it. */
  identity: Vote;
  /** Good looks that matched nobody clearly (below threshold - nearMiss). */
  clearMisses: number;
}

interface Tally {
  v: Vote;
  w: number;
  confident: number;
}

/**
 * The track rule over its looks. Good looks vote: a person by their similarity, a miss or an ignored
 * face by 0.5 (as before: one poor frame does not flip a name). The winner is named when `nameLooks`
 * of its looks clear the margin, or one is `strongMargin` above the threshold, or the track already
 * carried that name; a miss wins as unknown after `unknownLooks` clear misses. Else uncertain.
 */
export function decideTrack(
  votes: Vote[],
  threshold: number,
  rule: EvidenceRule,
  namedBefore: number | null = null,
): TrackDecision {
  const good = votes.filter((v) => v.good !== false).slice(-rule.window);
  const tallies = new Map<string, Tally>();
  let clearMisses = 0;
  for (const v of good) {
    const key = v.personId !== null ? String(v.personId) : v.label === 'ignored' ? 'ignored' : 'miss';
    if (key === 'miss' && v.similarity < threshold - rule.nearMiss) clearMisses++;
    const w = v.personId === null ? 0.5 : Math.max(0.05, v.similarity);
    const confident = v.personId !== null && (v.margin ?? 1) >= rule.minMargin ? 1 : 0;
    const cur = tallies.get(key);
    if (!cur) tallies.set(key, { v, w, confident });
    else {
      cur.w += w;
      cur.confident += confident;
      if (v.similarity > cur.v.similarity) cur.v = v;
    }
  }
  let best: Tally | undefined;
  for (const t of tallies.values()) if (!best || t.w > best.w) best = t;
  const nearest = Math.max(0, ...votes.map((v) => v.similarity));
  const uncertain: TrackDecision = {
    outcome: 'uncertain',
    identity: { personId: null, label: 'uncertain', similarity: best?.v.similarity ?? nearest },
    clearMisses,
  };
  if (!best) return uncertain;
  const { v } = best;
  if (v.personId !== null) {
    const strong = v.similarity >= threshold + rule.strongMargin && (v.margin ?? 1) >= rule.minMargin;
    if (best.confident >= rule.nameLooks || strong || namedBefore === v.personId)
      return { outcome: 'named', identity: v, clearMisses };
    return uncertain;
  }
  if (v.label === 'ignored') return { outcome: 'uncertain', identity: v, clearMisses };
  if (clearMisses >= rule.unknownLooks) return { outcome: 'unknown', identity: v, clearMisses };
  return uncertain;
}
