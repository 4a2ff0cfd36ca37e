import { describe, expect, it } from 'vitest';
import { DEFAULT_EVIDENCE, decideTrack, poorLook, pose, type Vote } from '../../src/faces/outcome.js';
import { FaceTracker, DEFAULT_TRACKER } from '../../src/faces/track.js';
import type { Detection } from '../../src/inference/contract.js';

const T = 0.579;
const rule = DEFAULT_EVIDENCE;
const ada = (similarity: number, margin = 0.2, good = true): Vote => ({
  personId: 1,
  label: 'ada',
  similarity,
  margin,
  good,
});
const bob = (similarity: number): Vote => ({ personId: 2, label: 'bob', similarity, margin: 0.2 });
const miss = (similarity: number, good = true): Vote => ({
  personId: null,
  label: 'unknown',
  similarity,
  good,
});

/** A face box with eyes and nose placed as a detector gives them; `turn` moves the nose sideways. */
const face = (w: number, turn = 0): Pick<Detection, 'box' | 'landmarks'> => ({
  box: [100, 100, 100 + w, 100 + w],
  landmarks: [
    [100 + 0.3 * w, 100 + 0.4 * w],
    [100 + 0.7 * w, 100 + 0.4 * w],
    [100 + (0.5 + turn) * w, 100 + 0.6 * w],
  ],
});

describe('per-look quality', () => {
  it('pose is 0 for a frontal face and grows with the nose off the eyes, in quarter face widths', () => {
    expect(pose(face(80))).toBeCloseTo(0, 6);
    expect(pose(face(80, 0.125))).toBeCloseTo(0.5, 6);
    expect(pose(face(80, -0.3))).toBeCloseTo(1.2, 6);
    expect(pose({ box: [0, 0, 10, 10], landmarks: [] })).toBeNull();
  });

  it('a small or strongly turned face does not vote; a frontal one large enough does', () => {
    expect(poorLook(face(rule.voteMinFacePx - 1), rule)).toBe('small');
    expect(poorLook(face(80, 0.4), rule)).toBe('turned');
    expect(poorLook(face(rule.voteMinFacePx), rule)).toBeNull();
  });
});

describe('the track rule: named, unknown, uncertain', () => {
  it('one ordinary look above the threshold is uncertain; a second agreeing look names', () => {
    expect(decideTrack([ada(0.62)], T, rule).outcome).toBe('uncertain');
    const d = decideTrack([ada(0.62), ada(0.6)], T, rule);
    expect(d.outcome).toBe('named');
    expect(d.identity.label).toBe('ada');
    expect(d.identity.similarity).toBe(0.62);
  });

  it('one look far above the threshold (strongMargin) names at once', () => {
    expect(decideTrack([ada(T + rule.strongMargin + 0.01)], T, rule).outcome).toBe('named');
  });

  it('looks without a margin over the second person do not name', () => {
    const close = [ada(0.65, 0.01), ada(0.66, 0.02), ada(0.64, 0.01)];
    expect(decideTrack(close, T, rule).outcome).toBe('uncertain');
    // not even a strong one
    expect(decideTrack([ada(T + rule.strongMargin + 0.05, 0.01)], T, rule).outcome).toBe('uncertain');
  });

  it('poor looks do not vote: a lucky match on a poor look names no one', () => {
    const poorAda = [ada(0.9, 0.3, false), ada(0.88, 0.3, false), ada(0.9, 0.3, false)];
    const d = decideTrack(poorAda, T, rule);
    expect(d.outcome).toBe('uncertain');
    expect(d.identity.personId).toBeNull();
    // nor do poor misses make a stranger
    expect(decideTrack([miss(0.2, false), miss(0.2, false), miss(0.2, false)], T, rule).outcome).toBe(
      'uncertain',
    );
  });

  it('unknown needs unknownLooks clear misses; near misses keep the track uncertain', () => {
    expect(decideTrack([miss(0.3)], T, rule).outcome).toBe('uncertain');
    const two = decideTrack([miss(0.3), miss(0.35)], T, rule);
    expect(two.outcome).toBe('unknown');
    expect(two.clearMisses).toBe(2);
    const near = [miss(T - 0.01), miss(T - 0.02), miss(T - 0.03)];
    expect(decideTrack(near, T, rule).outcome).toBe('uncertain');
    expect(decideTrack(near, T, rule).clearMisses).toBe(0);
  });

  it('disagreeing names: the weighted vote wins only with its own agreeing looks', () => {
    expect(decideTrack([ada(0.62), bob(0.63)], T, rule).outcome).toBe('uncertain');
    const d = decideTrack([ada(0.62), bob(0.63), ada(0.61)], T, rule);
    expect([d.outcome, d.identity.label]).toEqual(['named', 'ada']);
  });

  it('a named track keeps its name through one poor or missing look (no flicker)', () => {
    const looks = [ada(0.66), ada(0.64), miss(0.5)];
    expect(decideTrack(looks, T, rule, 1).identity.label).toBe('ada');
  });

  it('the tracker applies the rule when given one, and the plain vote without', () => {
    const det: Detection = { box: [0, 0, 60, 60], score: 0.9, landmarks: [] };
    const plain = new FaceTracker(DEFAULT_TRACKER);
    const a = plain.update([det], 0).assigned[0];
    if (!a) throw new Error('no track');
    plain.addVote(a, ada(0.62), 1);
    expect(a.outcome).toBe('named');
    const ruled = new FaceTracker({ ...DEFAULT_TRACKER, evidence: { threshold: T, rule } });
    const b = ruled.update([det], 0).assigned[0];
    if (!b) throw new Error('no track');
    ruled.addVote(b, ada(0.62), 1);
    expect([b.outcome, b.identity?.label]).toEqual(['uncertain', 'uncertain']);
    ruled.addVote(b, ada(0.61), 1);
    expect([b.outcome, b.identity?.label]).toEqual(['named', 'ada']);
  });
});
