import type { Detection } from '../inference/contract.js';
import { iou } from './detect/blazeface.js';
import { dot } from './metrics.js';
import { decideTrack, type EvidenceRule, type Outcome, type Vote } from './outcome.js';

export type { Vote } from './outcome.js';

export interface TrackerOptions {
  /** Minimum IoU to continue a track. */
  iouThreshold: number;
  /** A track not seen for this long is closed (ms). */
  maxAgeMs: number;
  /** Re-recognise a known track this often (ms), or sooner when the face got much better. */
  refreshMs: number;
  /** "Much better": face area x score grew by this factor since the last recognition. */
  qualityGain: number;
  /** A track not (yet) matched to anyone is re-checked this soon, to confirm or correct it quickly. */
  unknownRefreshMs?: number;
  /**
   * A continuation overlapping its previous box less than this (IoU) is a jump: a fast move, or a
   * scene cut that put another face where this one was. It is re-recognised at once. Default 0.5.
   */
  jumpIou?: number;
  /**
   * The evidence rule (outcome.ts) and the threshold it works at. Absent: the plain vote
   * (voteIdentity), a name from one look; kept for callers that tally looks themselves.
   */
  evidence?: { threshold: number; rule: EvidenceRule };
}

export const DEFAULT_TRACKER: TrackerOptions = {
  iouThreshold: 0.3,
  maxAgeMs: 1500,
  refreshMs: 3000,
  qualityGain: 1.5,
};

export interface Track {
  id: number;
  box: Detection['box'];
  landmarks: Detection['landmarks'];
  score: number;
  firstSeen: number;
  lastSeen: number;
  hits: number;
  /** Recognitions so far and when the last one was asked for. */
  votes: Vote[];
  lastRecognizedAt: number;
  recognizing: boolean;
  bestQuality: number;
  /** The identity the votes agree on (null: not recognised yet). */
  identity: Vote | null;
  /** What the track is on its evidence so far (undefined: not recognised yet). */
  outcome?: Outcome;
  /** Good looks of this track that matched nobody, clearly (the evidence rule; else all misses). */
  clearMisses?: number;
  /** The face's embedding at its last recognition (continuity: is it still the same face?). */
  embedding?: Float32Array;
  /**
   * Capture time (wall-clock ms, Frame.captureTs) of the first look good enough to embed, or of the
   * gallery change that made the track nameable when later; undefined: no usable look yet.
   */
  usableSince?: number;
  /** Whether a name (an enrolled person) was published for this track: time to name counted once. */
  named?: boolean;
}

/**
 * How well a detection continues a track: the IoU when it reaches the threshold; otherwise, for a
 * face that moved fast between two detections (low IoU at 5 fps), a smaller score when the centres
 * are within 0.7 face widths and the sizes within a factor of 1.6. 0: no match.
 */
export function matchScore(a: Detection['box'], b: Detection['box'], iouThreshold: number): number {
  const v = iou(a, b);
  if (v >= iouThreshold) return v;
  const wa = a[2] - a[0];
  const wb = b[2] - b[0];
  const ratio = Math.max(wa, wb) / Math.max(1e-6, Math.min(wa, wb));
  if (ratio > 1.6) return 0;
  const dx = (a[0] + a[2] - b[0] - b[2]) / 2;
  const dy = (a[1] + a[3] - b[1] - b[3]) / 2;
  const dist = Math.hypot(dx, dy) / Math.max(wa, wb);
  return dist < 0.7 ? Math.min(iouThreshold * 0.99, 0.01 + iouThreshold * (1 - dist / 0.7)) : 0;
}

export const quality = (d: Pick<Detection, 'box' | 'score'>) =>
  (d.box[2] - d.box[0]) * (d.box[3] - d.box[1]) * d.score;

/**
 * The identity of a track: the label with the highest summed similarity over its last votes, so one
 * poor frame cannot flip a name. Unknown votes count with a fixed weight.
 */
export function voteIdentity(votes: Vote[], window = 7): Vote | null {
  if (!votes.length) return null;
  const recent = votes.slice(-window);
  const score = new Map<string, { v: Vote; w: number }>();
  for (const v of recent) {
    const key = v.personId === null ? 'unknown' : String(v.personId);
    const w = v.personId === null ? 0.5 : Math.max(0.05, v.similarity);
    const cur = score.get(key);
    if (cur) {
      cur.w += w;
      if (v.similarity > cur.v.similarity) cur.v = v;
    } else score.set(key, { v, w });
  }
  let best: { v: Vote; w: number } | undefined;
  for (const s of score.values()) if (!best || s.w > best.w) best = s;
  return best?.v ?? null;
}

/**
 * A SORT-style tracker for one stream: detections are matched to tracks greedily by IoU (best pairs
 * first); unmatched detections start tracks; tracks unseen for maxAgeMs end. It also decides which
 * tracks need a recognition now, so faces are embedded once per track and refreshed, not per frame.
 */
export class FaceTracker {
  private tracks: Track[] = [];
  private nextId: number;

  constructor(
    readonly opts: TrackerOptions = DEFAULT_TRACKER,
    firstId = 1,
  ) {
    this.nextId = firstId;
  }

  get active(): Track[] {
    return this.tracks;
  }

  /** Updates with one frame's detections; returns the track of each detection (same order) and ended tracks. */
  update(dets: Detection[], now: number): { assigned: Track[]; ended: Track[] } {
    const pairs: Array<{ t: number; d: number; iou: number }> = [];
    this.tracks.forEach((t, ti) => {
      dets.forEach((d, di) => {
        const v = matchScore(t.box, d.box, this.opts.iouThreshold);
        if (v > 0) pairs.push({ t: ti, d: di, iou: v });
      });
    });
    pairs.sort((a, b) => b.iou - a.iou);
    const usedT = new Set<number>();
    const assigned: Array<Track | undefined> = dets.map(() => undefined);
    for (const p of pairs) {
      if (usedT.has(p.t) || assigned[p.d]) continue;
      usedT.add(p.t);
      const t = this.tracks[p.t] as Track;
      const d = dets[p.d] as Detection;
      if (p.iou < (this.opts.jumpIou ?? 0.5)) t.lastRecognizedAt = Number.NEGATIVE_INFINITY;
      t.box = d.box;
      t.landmarks = d.landmarks;
      t.score = d.score;
      t.lastSeen = now;
      t.hits++;
      assigned[p.d] = t;
    }
    dets.forEach((d, i) => {
      if (assigned[i]) return;
      const t: Track = {
        id: this.nextId++,
        box: d.box,
        landmarks: d.landmarks,
        score: d.score,
        firstSeen: now,
        lastSeen: now,
        hits: 1,
        votes: [],
        lastRecognizedAt: 0,
        recognizing: false,
        bestQuality: 0,
        identity: null,
      };
      this.tracks.push(t);
      assigned[i] = t;
    });
    const ended = this.tracks.filter((t) => now - t.lastSeen > this.opts.maxAgeMs);
    if (ended.length) this.tracks = this.tracks.filter((t) => now - t.lastSeen <= this.opts.maxAgeMs);
    return { assigned: assigned as Track[], ended };
  }

  /** Should this track be (re-)recognised now? */
  needsRecognition(t: Track, now: number): boolean {
    if (t.recognizing) return false;
    if (!t.votes.length) return true;
    const unsure = t.identity === null || (t.identity.personId === null && t.votes.length < 3);
    if (now - t.lastRecognizedAt >= (unsure ? (this.opts.unknownRefreshMs ?? 600) : this.opts.refreshMs))
      return true;
    return quality(t) >= t.bestQuality * this.opts.qualityGain;
  }

  /**
   * Continuity, at each recognition: is this face (`embedding`) the same person as the face of the
   * track's last recognition (verification at the calibrated `threshold`)? If not, a scene cut or a
   * swap put someone else where it was, and the track restarts: a new id and no identity, as if the
   * face had just appeared. Frame to frame the same face scores far higher than against a one-shot
   * gallery photo, so a track whose name match is merely weak is not broken. False on a restart.
   */
  continues(t: Track, embedding: Float32Array, threshold: number, now: number): boolean {
    const same = !t.embedding || dot(t.embedding, embedding) >= threshold;
    if (!same) this.restart(t, now);
    t.embedding = embedding;
    return same;
  }

  private restart(t: Track, now: number): void {
    t.id = this.nextId++;
    t.firstSeen = now;
    t.hits = 1;
    t.votes = [];
    t.identity = null;
    t.outcome = undefined;
    t.clearMisses = 0;
    t.bestQuality = 0;
    t.embedding = undefined;
    t.usableSince = now;
    t.named = false;
  }

  /** Records a recognition result; returns the (possibly changed) identity. */
  addVote(t: Track, v: Vote, q: number): Vote | null {
    t.votes.push(v);
    if (t.votes.length > 20) t.votes.shift();
    t.bestQuality = Math.max(t.bestQuality, q);
    const ev = this.opts.evidence;
    if (ev) {
      const namedBefore = t.outcome === 'named' ? (t.identity?.personId ?? null) : null;
      const d = decideTrack(t.votes, ev.threshold, ev.rule, namedBefore);
      t.identity = d.identity;
      t.outcome = d.outcome;
      t.clearMisses = d.clearMisses;
    } else {
      t.identity = voteIdentity(t.votes);
      t.outcome = t.identity?.personId != null ? 'named' : 'unknown';
      t.clearMisses = t.votes.filter((x) => x.personId === null).length;
    }
    return t.identity;
  }
}
