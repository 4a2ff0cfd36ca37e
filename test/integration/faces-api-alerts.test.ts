/**
 * GET /api/alerts on a real Vigil: paging with ?before=, filters by camera and label, snapshots,
 * and enrolling a person from an alert's snapshot (when the shared photos are there).
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { enrollThree, errorOf, useFacesApi } from '../helpers/faces-api.js';
import { facePhotosMissing, photo } from '../helpers/faces.js';
import { samplePhoto } from '../helpers/images.js';

const missing = facePhotosMissing();

describe('faces HTTP API end to end: alerts (pipeline recognize, real models, real SQLite)', () => {
  const api = useFacesApi();
  let ids: Record<string, number> = {};
  beforeAll(async () => {
    if (!missing) ids = await enrollThree(api);
  });

  it('GET /api/alerts pages with ?before= and serves snapshots', async () => {
    const store = api.vigil.context.faces?.alerts;
    if (!store) throw new Error('no alert store');
    const first = await api.call('GET', '/alerts');
    expect(first.status).toBe(200);
    expect(Array.isArray(first.json)).toBe(true);
    const snap = missing ? readFileSync(samplePhoto(2)) : photo('rose_leslie', 'img1.jpg');
    const now = Date.now() / 1000;
    const added = [0, 1, 2, 3, 4].map((i) =>
      store.add(
        {
          camera: i % 2 ? 'door' : 'cam',
          sub_label: i === 3 ? 'Biden' : 'unknown',
          person_id: i === 3 ? (ids.Biden ?? null) : null,
          score: 0.3 + i / 10,
          track_id: 100 + i,
          start_time: now + i,
        },
        i === 1 ? undefined : snap,
      ),
    );
    const newest = added.map((a) => a.id).reverse();

    const p1 = (await api.call('GET', '/alerts?limit=2')).json as Array<{ id: number }>;
    expect(p1.map((a) => a.id)).toEqual(newest.slice(0, 2));
    const p2 = (await api.call('GET', `/alerts?limit=2&before=${p1.at(-1)?.id}`)).json as Array<{
      id: number;
    }>;
    expect(p2.map((a) => a.id)).toEqual(newest.slice(2, 4));
    const p3 = (await api.call('GET', `/alerts?limit=2&before=${p2.at(-1)?.id}`)).json as Array<{
      id: number;
    }>;
    expect(p3.map((a) => a.id).slice(0, 1)).toEqual(newest.slice(4, 5));

    const all = (await api.call('GET', '/alerts')).json as Array<Record<string, unknown>>;
    expect(all.slice(0, 5).map((a) => a.id)).toEqual(newest);
    expect(all[1]).toMatchObject({
      type: 'face',
      camera: 'door',
      sub_label: 'Biden',
      track_id: 103,
      has_snapshot: true,
      snapshot_url: `/api/alerts/${newest[1]}/snapshot.jpg`,
    });
    expect(all[1]?.start_time).toBeCloseTo(now + 3, 2);
    const door = (await api.call('GET', '/alerts?camera=door')).json as Array<{ camera: string }>;
    expect(door.length).toBeGreaterThanOrEqual(2);
    expect(door.every((a) => a.camera === 'door')).toBe(true);
    const biden = (await api.call('GET', '/alerts?label=Biden')).json as Array<{ id: number }>;
    expect(biden.map((a) => a.id)).toContain(newest[1]);

    const s = await api.call('GET', `/alerts/${newest[1]}/snapshot.jpg`);
    expect(s.status).toBe(200);
    expect(s.type).toBe('image/jpeg');
    expect(s.body.equals(snap)).toBe(true);
    const none = await api.call('GET', `/alerts/${added[1]?.id}/snapshot.jpg`);
    expect(none.status).toBe(404);
    expect(errorOf(none)).toMatch(/has no snapshot/);

    if (!missing) {
      // An operator names the face of an alert: it is enrolled from the snapshot.
      const e = await api.call('POST', `/people/from-alert/${newest[0]}?name=Rose`);
      expect(e.status, errorOf(e)).toBe(201);
      expect(e.json).toMatchObject({ name: 'Rose', photos: 1, embedded: 1 });
      ids.Rose = (e.json as { id: number }).id;
      const who = await api.call('POST', '/identify', photo('rose_leslie', 'img2.jpg'));
      expect(
        (who.json as { faces: Array<{ identity: { personId: number } }> }).faces[0]?.identity.personId,
      ).toBe(ids.Rose);
    }
  });
});
