// Open-set evaluation of the calibration set (bench/_calibration-data.ts): per-look and per-track
// stranger FAR and TAR, for raw cosine scores or cohort-normalised ones (src/faces/cohort.ts).
//
// A site is one shared set: its people enrolled from their first photo (clean). Its strangers are
// (a) each of its own people in turn, left out of the gallery (same camera, same kind of faces: the
// hard case, like the held-out sets) and (b) every face of the other sets and the demo
// photos. Queries are degraded per condition; enrolment photos never are.
import { asNorm, type CohortStats, topKStats } from '../src/faces/cohort.js';
import { dot } from '../src/faces/metrics.js';
import { decideTrack, type EvidenceRule, type Vote } from '../src/faces/outcome.js';
import { Rng } from '../src/util/rng.js';
import { type Condition, DEMO_SET, type Face, SHARED_SETS } from './_calibration-data.js';

export type Scoring = { kind: 'raw' } | { kind: 'snorm' | 'centre'; k: number };

/** One query's ranked scores against a gallery: best person, its score, the runner-up's score. */
export interface Look {
  /** Whose face it is, and whether that person is in the gallery the look was matched against. */
  identity: string;
  enrolled: boolean;
  best: string;
  score: number;
  second: number;
  raw: number;
}

/** A query identity's looks against one gallery under one condition (a track draws from them). */
export interface QueryGroup {
  site: string;
  querySet: string;
  identity: string;
  enrolled: boolean;
  sameSet: boolean;
  looks: Look[];
}

interface Template {
  identity: string;
  e: Float32Array;
  stats?: CohortStats;
}

/** The cohort a query is normalised against: demo faces and the sets that are neither site nor query's. */
export function cohortFor(
  faces: Face[],
  site: string,
  querySet: string,
  queryIdentity: string,
): Float32Array[] {
  return faces
    .filter(
      (f) => f.set !== site && (f.set !== querySet || f.set === DEMO_SET) && f.identity !== queryIdentity,
    )
    .filter((f) => !(querySet === DEMO_SET && f.set === DEMO_SET && f.file === photoOf(queryIdentity, faces)))
    .map((f) => f.embedding.clean);
}

function photoOf(identity: string, faces: Face[]): string | undefined {
  return faces.find((f) => f.identity === identity)?.file;
}

function rank(
  q: Float32Array,
  gallery: Template[],
  scoring: Scoring,
  qStats: CohortStats | undefined,
): Omit<Look, 'identity' | 'enrolled'> {
  const scored = gallery.map((t) => {
    const raw = dot(q, t.e);
    const score =
      scoring.kind === 'raw' || !qStats || !t.stats
        ? raw
        : scoring.kind === 'centre'
          ? raw - (qStats.mean + t.stats.mean) / 2
          : asNorm(raw, qStats, t.stats);
    return { id: t.identity, raw, score };
  });
  scored.sort((a, b) => b.score - a.score);
  const [a, b] = scored;
  if (!a) throw new Error('calibration: empty gallery');
  return { best: a.id, score: a.score, raw: a.raw, second: b?.score ?? a.score - 1 };
}

/** Every site's query groups under one condition. */
export function queryGroups(faces: Face[], condition: Condition, scoring: Scoring): QueryGroup[] {
  const out: QueryGroup[] = [];
  const cohortCache = new Map<string, Float32Array[]>();
  const cohort = (site: string, querySet: string, id: string) => {
    const key = `${site}|${querySet}|${querySet === DEMO_SET ? photoOf(id, faces) : querySet === site ? id : ''}`;
    let c = cohortCache.get(key);
    if (!c) {
      c = cohortFor(faces, site, querySet, id);
      cohortCache.set(key, c);
    }
    return c;
  };
  for (const site of SHARED_SETS) {
    const enrolled = faces.filter((f) => f.set === site && f.index === 0);
    const byIdentity = new Map<string, Face[]>();
    for (const f of faces) byIdentity.set(f.identity, [...(byIdentity.get(f.identity) ?? []), f]);
    for (const [identity, own] of byIdentity) {
      const querySet = (own[0] as Face).set;
      const sameSet = querySet === site;
      const c = scoring.kind !== 'raw' ? cohort(site, querySet, identity) : [];
      const k = scoring.kind !== 'raw' ? scoring.k : 0;
      const templates = (exclude?: string): Template[] =>
        enrolled
          .filter((t) => t.identity !== exclude)
          .map((t) => ({
            identity: t.identity,
            e: t.embedding.clean,
            stats: k ? topKStats(t.embedding.clean, c, k) : undefined,
          }));
      const stranger = templates(identity);
      const full = sameSet ? templates() : stranger;
      const groups: Array<{ enrolled: boolean; gallery: Template[]; items: Face[] }> = [
        { enrolled: false, gallery: stranger, items: own },
      ];
      if (sameSet) groups.push({ enrolled: true, gallery: full, items: own.filter((f) => f.index > 0) });
      for (const g of groups) {
        if (!g.items.length) continue;
        const looks = g.items.map((f) => {
          const q = f.embedding[condition];
          const qStats = k ? topKStats(q, c, k) : undefined;
          return { identity, enrolled: g.enrolled, ...rank(q, g.gallery, scoring, qStats) };
        });
        out.push({ site, querySet, identity, enrolled: g.enrolled, sameSet, looks });
      }
    }
  }
  return out;
}

/** A look names someone at this threshold; `correct`: the right person (enrolled queries). */
/** A look names its best person: at or above the threshold and (the per-look rule) `minMargin` above the second. */
export const named = (l: Look, th: number, minMargin = 0) => l.score >= th && l.score - l.second >= minMargin;
export const correct = (l: Look, th: number, minMargin = 0) =>
  l.enrolled && l.best === l.identity && named(l, th, minMargin);

export interface LookRates {
  strangers: number;
  far: number;
  sameSetStrangers: number;
  sameSetFar: number;
  genuine: number;
  tar: number;
}

/** Per-look rates at threshold `th`; with `minMargin`, as the per-look vote counts (score and margin). */
export function lookRates(groups: QueryGroup[], th: number, minMargin = 0): LookRates {
  const s = groups.filter((g) => !g.enrolled).flatMap((g) => g.looks);
  const ss = groups.filter((g) => !g.enrolled && g.sameSet).flatMap((g) => g.looks);
  const gen = groups.filter((g) => g.enrolled).flatMap((g) => g.looks);
  const rate = (xs: Look[], f: (l: Look) => boolean) =>
    xs.length ? xs.filter(f).length / xs.length : Number.NaN;
  return {
    strangers: s.length,
    far: rate(s, (l) => named(l, th, minMargin)),
    sameSetStrangers: ss.length,
    sameSetFar: rate(ss, (l) => named(l, th, minMargin)),
    genuine: gen.length,
    tar: rate(gen, (l) => correct(l, th, minMargin)),
  };
}

/** The vote of a look (as the recogniser casts it): a person at or above the threshold, else a miss. */
function vote(l: Look, th: number): Vote {
  return l.score >= th
    ? { personId: 1, label: l.best, similarity: l.score, margin: l.score - l.second, good: true }
    : { personId: null, label: 'unknown', similarity: l.score, good: true };
}

/**
 * Simulated tracks: `perGroup` tracks of `looks` looks each, drawn (seeded) from the group's looks;
 * the track rule (outcome.ts decideTrack) runs after every look, as live, and a track named once
 * stays named. A group of one image repeats it: a still face is the rule's worst case.
 */
export function trackRates(
  groups: QueryGroup[],
  th: number,
  rule: EvidenceRule,
  opts: { looks: number; perGroup: number; seed?: number },
): { strangerTracks: number; trackFar: number; genuineTracks: number; trackTar: number } {
  const rng = new Rng(opts.seed ?? 14);
  let sTracks = 0;
  let sNamed = 0;
  let gTracks = 0;
  let gRight = 0;
  for (const g of groups) {
    for (let t = 0; t < opts.perGroup; t++) {
      const votes: Vote[] = [];
      let namedAs: string | null = null;
      // every look drawn first: each rule and threshold sees the same tracks (common random numbers)
      const drawn = Array.from({ length: opts.looks }, () => g.looks[rng.int(g.looks.length)] as Look);
      for (const l of drawn) {
        if (namedAs !== null) break;
        votes.push(vote(l, th));
        const d = decideTrack(votes, th, rule);
        if (d.outcome === 'named') namedAs = d.identity.label;
      }
      if (g.enrolled) {
        gTracks++;
        if (namedAs === g.identity) gRight++;
      } else {
        sTracks++;
        if (namedAs !== null) sNamed++;
      }
    }
  }
  return {
    strangerTracks: sTracks,
    trackFar: sTracks ? sNamed / sTracks : Number.NaN,
    genuineTracks: gTracks,
    trackTar: gTracks ? gRight / gTracks : Number.NaN,
  };
}

/** The lowest threshold at which at most `far` of the strangers' looks are named (one extra allowed per 1/far). */
export function thresholdAtFar(groups: QueryGroup[], far: number): number {
  const s = groups
    .filter((g) => !g.enrolled)
    .flatMap((g) => g.looks.map((l) => l.score))
    .sort((a, b) => b - a);
  const allowed = Math.floor(far * s.length);
  return allowed >= s.length ? Number.NEGATIVE_INFINITY : (s[allowed] as number) + 1e-6;
}
