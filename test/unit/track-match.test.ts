import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { AlertRules, type FaceAlert } from '../../src/faces/alerts.js';
import { postWebhook } from '../../src/output/sinks/webhook.js';
import type { GalleryMatrix } from '../../src/faces/gallery/gallery.js';
import { identify, verify } from '../../src/faces/match.js';
import { DEFAULT_TRACKER, FaceTracker, matchScore, type Track, voteIdentity } from '../../src/faces/track.js';
import type { Detection } from '../../src/inference/contract.js';

const det = (x: number, y: number, w = 40, score = 0.9): Detection => ({
  box: [x, y, x + w, y + w],
  score,
  landmarks: [],
});

describe('FaceTracker', () => {
  it('keeps a track id while the face moves, starts new ones for new faces, ends lost tracks', () => {
    const t = new FaceTracker(DEFAULT_TRACKER);
    const a0 = t.update([det(100, 100)], 0).assigned[0];
    const a1 = t.update([det(108, 102), det(400, 100)], 200).assigned;
    expect(a1[0]?.id).toBe(a0?.id);
    expect(a1[1]?.id).not.toBe(a0?.id);
    // a fast move (IoU < 0.3) is still the same face by centre distance
    const a2 = t.update([det(130, 104), det(400, 100)], 400).assigned;
    expect(a2[0]?.id).toBe(a0?.id);
    // both gone for longer than maxAgeMs: tracks end
    const { ended } = t.update([], 400 + DEFAULT_TRACKER.maxAgeMs + 1);
    expect(ended.map((x) => x.id).sort()).toEqual([a0?.id, a1[1]?.id].sort());
    expect(t.active).toEqual([]);
  });

  it('two faces crossing keep their own ids (best IoU pairs first)', () => {
    const t = new FaceTracker(DEFAULT_TRACKER);
    const [l, r] = t.update([det(100, 100), det(150, 100)], 0).assigned;
    const [l2, r2] = t.update([det(104, 100), det(146, 100)], 200).assigned;
    expect([l2?.id, r2?.id]).toEqual([l?.id, r?.id]);
  });

  it('asks for recognition once per track, then on refresh or a much better face', () => {
    const t = new FaceTracker({ ...DEFAULT_TRACKER, refreshMs: 1000 });
    const tr = t.update([det(0, 0, 40)], 0).assigned[0] as NonNullable<
      ReturnType<FaceTracker['update']>['assigned'][0]
    >;
    expect(t.needsRecognition(tr, 0)).toBe(true);
    t.addVote(tr, { personId: 1, label: 'ada', similarity: 0.8 }, 40 * 40 * 0.9);
    tr.lastRecognizedAt = 0;
    expect(t.needsRecognition(tr, 500)).toBe(false);
    t.update([det(0, 0, 60)], 600); // the face got much bigger
    expect(t.needsRecognition(tr, 600)).toBe(true);
    expect(t.needsRecognition(tr, 1200)).toBe(true);
  });

  it('looks again soon at a track not named yet (unknownRefreshMs), at most three times, then at refreshMs', () => {
    const t = new FaceTracker({ ...DEFAULT_TRACKER, refreshMs: 3000, unknownRefreshMs: 150 });
    const tr = t.update([det(0, 0, 40)], 0).assigned[0] as NonNullable<
      ReturnType<FaceTracker['update']>['assigned'][0]
    >;
    const stranger = { personId: null, label: 'unknown', similarity: 0.5 };
    let now = 0;
    for (let look = 1; look <= 3; look++) {
      expect(t.needsRecognition(tr, now), `look ${look}`).toBe(true);
      tr.lastRecognizedAt = now;
      t.addVote(tr, stranger, 40 * 40 * 0.9);
      expect(t.needsRecognition(tr, now + 100), `100 ms after look ${look}`).toBe(false);
      now += 200; // the next detection at 5 fps
    }
    // three looks agree on unknown: back to the known-track pace
    expect(t.needsRecognition(tr, now)).toBe(false);
    expect(t.needsRecognition(tr, 400 + 3000)).toBe(true);
  });

  it('votes: one poor frame does not flip a name', () => {
    const v = (label: string, similarity: number, personId: number | null = 1) => ({
      label,
      similarity,
      personId,
    });
    expect(voteIdentity([v('ada', 0.8), v('ada', 0.75), v('unknown', 0.3, null)])?.label).toBe('ada');
    expect(
      voteIdentity([v('ada', 0.6), v('unknown', 0.3, null), v('unknown', 0.3, null), v('unknown', 0.2, null)])
        ?.label,
    ).toBe('unknown');
    expect(voteIdentity([])).toBeNull();
    expect(matchScore([0, 0, 10, 10], [100, 100, 110, 110], 0.3)).toBe(0);
  });
});

describe('decisions', () => {
  const g: GalleryMatrix = {
    version: 1,
    rows: 3,
    dim: 2,
    data: new Float32Array([1, 0, 0.6, 0.8, 0, 1]),
    rowPerson: new Int32Array([7, 7, 9]),
    names: new Map([
      [7, 'ada'],
      [9, 'bob'],
    ]),
  };
  it('identifies the best person over all their photos, or unknown below the threshold', () => {
    expect(identify([1, 2, 0], [0.9, 0.7, 0.5], g, 0.6)).toMatchObject({
      personId: 7,
      label: 'ada',
      similarity: 0.9,
    });
    const u = identify([2, 0], [0.55, 0.4], g, 0.6);
    expect(u).toMatchObject({ personId: null, label: 'unknown', nearest: { personId: 9, name: 'bob' } });
    expect(identify([], [], g, 0.6).label).toBe('unknown');
    expect(identify([5], [0.99], g, 0.6).label).toBe('unknown'); // a row of a newer gallery version is ignored
  });

  it('verifies with similarity and distance', () => {
    const v = verify(new Float32Array([1, 0]), new Float32Array([0.6, 0.8]), 0.5);
    expect(v.same).toBe(true);
    expect(v.similarity).toBeCloseTo(0.6, 6);
    expect(v.distance).toBeCloseTo(Math.sqrt(0.8), 6);
    expect(verify(new Float32Array([1, 0]), new Float32Array([0, 1]), 0.5).same).toBe(false);
  });
});

describe('alerts', () => {
  it('fire once per track, and once per person and camera, within the cooldown', () => {
    const r = new AlertRules({ persons: 'all', unknown: true, cooldownSeconds: 10 });
    expect(r.shouldFire('cam', 1, 'ada', 0)).toBe(true);
    expect(r.shouldFire('cam', 1, 'ada', 1000)).toBe(false);
    expect(r.shouldFire('cam', 2, 'ada', 2000)).toBe(false); // same person, new track
    expect(r.shouldFire('cam2', 3, 'ada', 2000)).toBe(true); // another camera
    expect(r.shouldFire('cam', 4, 'unknown', 2000)).toBe(true);
    expect(r.shouldFire('cam', 5, 'unknown', 2000)).toBe(true); // each stranger's track
    expect(r.shouldFire('cam', 1, 'ada', 11_000)).toBe(true);
    const watch = new AlertRules({ persons: ['bob'], unknown: false, cooldownSeconds: 10 });
    expect(watch.shouldFire('cam', 1, 'ada', 0)).toBe(false);
    expect(watch.shouldFire('cam', 2, 'unknown', 0)).toBe(false);
    expect(watch.shouldFire('cam', 3, 'bob', 0)).toBe(true);
  });

  it('webhooks are retried after a server error and get Frigate-style JSON', async () => {
    const got: unknown[] = [];
    let calls = 0;
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        calls++;
        if (req.url === '/nope') {
          res.writeHead(400);
          res.end();
          return;
        }
        if (calls === 1) {
          res.writeHead(503);
          res.end();
          return;
        }
        got.push(JSON.parse(body));
        res.writeHead(200);
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    const alert: FaceAlert = {
      id: 1,
      type: 'face',
      camera: 'cam',
      sub_label: 'ada',
      person_id: 7,
      score: 0.8,
      track_id: 3,
      start_time: 1700000000,
      has_snapshot: true,
      snapshot_url: '/api/alerts/1/snapshot.jpg',
    };
    try {
      expect(await postWebhook({ url }, alert, { baseDelayMs: 20 })).toBe(true);
      expect(calls).toBe(2);
      expect(got[0]).toMatchObject({
        type: 'new',
        camera: 'cam',
        sub_label: 'ada',
        after: { id: 1, track_id: 3 },
      });
      // a client error (4xx) is not retried
      const bad = `http://127.0.0.1:${(server.address() as AddressInfo).port}/nope`;
      calls = 0;
      expect(await postWebhook({ url: bad }, alert, { baseDelayMs: 20, tries: 4 })).toBe(false);
      expect(calls).toBe(1);
    } finally {
      server.close();
    }
  });
});

describe('retention', () => {
  it('expires snapshots and alerts by age, keeping newer ones', async () => {
    const Database = (await import('better-sqlite3')).default;
    const { AlertStore } = await import('../../src/faces/alerts.js');
    const db = new Database(':memory:');
    const store = new AlertStore(db);
    const day = 86_400;
    const now = Date.now();
    const base = { camera: 'cam', sub_label: 'unknown', person_id: null, score: 0.3, track_id: 1 };
    const old = store.add({ ...base, start_time: now / 1000 - 40 * day }, Buffer.from('jpeg'));
    const mid = store.add({ ...base, start_time: now / 1000 - 10 * day }, Buffer.from('jpeg'));
    const fresh = store.add({ ...base, start_time: now / 1000 - 1 }, Buffer.from('jpeg'));
    expect(store.purge({ snapshotDays: 7, alertDays: 30 }, now)).toEqual({ snapshots: 2, alerts: 1 });
    expect(store.get(old.id)).toBeUndefined();
    expect(store.get(mid.id)?.has_snapshot).toBe(false);
    expect(store.snapshot(fresh.id)?.toString()).toBe('jpeg');
    expect(store.purge({ snapshotDays: 0, alertDays: 0 }, now)).toEqual({ snapshots: 0, alerts: 0 });
  });
});

describe('alert history', () => {
  it('pages backwards (before) and catches up forwards (after), and records enrollment from an alert', async () => {
    const Database = (await import('better-sqlite3')).default;
    const { AlertStore } = await import('../../src/faces/alerts.js');
    const store = new AlertStore(new Database(':memory:'));
    const ids = Array.from(
      { length: 5 },
      (_, i) =>
        store.add(
          {
            camera: 'cam',
            sub_label: 'unknown',
            person_id: null,
            score: 0.3,
            track_id: i,
            start_time: 1000 + i,
          },
          undefined,
        ).id,
    );
    expect(store.list({ limit: 2 }).map((a) => a.id)).toEqual([ids[4], ids[3]]);
    expect(store.list({ before: ids[3], limit: 2 }).map((a) => a.id)).toEqual([ids[2], ids[1]]);
    expect(store.list({ after: ids[2] }).map((a) => a.id)).toEqual([ids[4], ids[3]]);
    expect(store.get(ids[0] as number)?.enrolled_person_id).toBeNull();
    store.markEnrolled(ids[0] as number, 42);
    expect(store.get(ids[0] as number)?.enrolled_person_id).toBe(42);
  });
});

describe('track continuity (a scene cut puts another face where a track was)', () => {
  const unit = (...v: number[]) => {
    const n = Math.hypot(...v);
    return new Float32Array(v.map((x) => x / n));
  };
  const lin = { personId: 1, label: 'lin', similarity: 0.7 };

  it('a jump (little overlap with the previous box) is re-recognised at once, a small move is not', () => {
    const t = new FaceTracker(DEFAULT_TRACKER);
    const tr = t.update([{ box: [274, 52, 372, 151], score: 0.9, landmarks: [] }], 0).assigned[0] as Track;
    t.addVote(tr, lin, 98 * 99 * 0.9);
    tr.lastRecognizedAt = 0;
    t.update([{ box: [278, 54, 375, 152], score: 0.9, landmarks: [] }], 200); // the same face, moved a little
    expect(t.needsRecognition(tr, 200)).toBe(false);
    // the Hamilton clip's cut: Lin's close-up, then Obama in the audience where Lin's face was (IoU 0.40)
    const next = t.update([{ box: [313, 59, 380, 126], score: 0.65, landmarks: [] }], 400).assigned[0];
    expect(next?.id).toBe(tr.id); // boxes alone cannot tell them apart
    expect(t.needsRecognition(tr, 400)).toBe(true);
  });

  it('a face that is not the person of its last recognition gets a new track with no name', () => {
    const t = new FaceTracker(DEFAULT_TRACKER);
    const tr = t.update([det(0, 0, 60)], 0).assigned[0] as Track;
    const first = tr.id;
    expect(t.continues(tr, unit(1, 0.1), 0.579, 0)).toBe(true); // first recognition: nothing to compare
    t.addVote(tr, lin, 60 * 60 * 0.9);
    expect(t.continues(tr, unit(1, 0.3), 0.579, 200)).toBe(true); // the same face (cosine 0.98)
    expect(tr.id).toBe(first);
    expect(tr.identity?.label).toBe('lin');
    expect(t.continues(tr, unit(0.3, 1), 0.579, 400)).toBe(false); // someone else (cosine 0.55)
    expect(tr.id).not.toBe(first);
    expect(tr.identity).toBeNull();
    expect(tr.votes).toEqual([]);
    expect(tr.firstSeen).toBe(400);
    expect(t.needsRecognition(tr, 400)).toBe(true);
    // from now on the new face is the reference
    expect(t.continues(tr, unit(0.35, 1), 0.579, 600)).toBe(true);
    // ids stay unique: a face appearing later gets a newer id
    const later = t.update([det(0, 0, 60), det(300, 300, 60)], 600).assigned;
    expect(later[0]?.id).toBe(tr.id);
    expect(later[1]?.id).toBeGreaterThan(tr.id);
  });
});
