/**
 * The people endpoints end to end on a real Vigil (pipeline recognize, real models, real SQLite): an
 * empty gallery, enrolling from real photos, renaming, identify, add-photo, verify, and deleting.
 * Bad input: faces-api-bad-input.test.ts; alerts: faces-api-alerts.test.ts.
 */
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { b64, errorOf, useFacesApi } from '../helpers/faces-api.js';
import { facePhotosMissing, photo } from '../helpers/faces.js';
import { samplePhoto } from '../helpers/images.js';
import { skipUnless } from '../helpers/requirements.js';

const missing = facePhotosMissing();
const skipRealPeople = skipUnless(missing, 'faces API tests that enroll real people');

describe('faces HTTP API end to end: people (pipeline recognize, real models, real SQLite)', () => {
  const api = useFacesApi();
  const ids: Record<string, number> = {};

  it('starts with face recognition on and an empty gallery', async () => {
    expect(api.vigil.context.faces).toBeDefined();
    const people = await api.call('GET', '/people');
    expect(people.status).toBe(200);
    expect(people.json).toEqual([]);
    const health = await api.call('GET', '/health');
    expect(health.json).toMatchObject({ pipeline: 'recognize', people: 0 });
  });

  it.skipIf(skipRealPeople)(
    'enrolls people from real photos (JPEG and PNG): 201, listed with a JPEG thumbnail',
    async () => {
      const r = await api.call('POST', '/people?name=Barack%20Obama', photo('obama', 'obama.jpg'));
      expect(r.status, errorOf(r)).toBe(201);
      expect(r.json).toMatchObject({ name: 'Barack Obama', photos: 1, embedded: 1 });
      ids.Obama = (r.json as { id: number }).id;
      const b = await api.call('POST', '/people?name=Biden', photo('biden', 'biden.jpg'));
      expect(b.status, errorOf(b)).toBe(201);
      ids.Biden = (b.json as { id: number }).id;
      const a = await api.call(
        'POST',
        '/people?name=Alex',
        photo('alex_lacamoire', 'alex-lacamoire.png'),
        'image/png',
      );
      expect(a.status, errorOf(a)).toBe(201);
      ids.Alex = (a.json as { id: number }).id;
      expect(new Set(Object.values(ids)).size).toBe(3);

      const list = await api.call('GET', '/people');
      expect(list.status).toBe(200);
      const people = list.json as Array<{ id: number; name: string; photos: number; thumbnail_url: string }>;
      expect(people.map((p) => p.name)).toEqual(['Alex', 'Barack Obama', 'Biden']);
      for (const p of people) {
        expect(p.thumbnail_url).toBe(`/api/people/${p.id}/thumbnail.jpg`);
        const t = await fetch(`http://127.0.0.1:${api.vigil.address.port}${p.thumbnail_url}`);
        expect(t.status).toBe(200);
        expect(t.headers.get('content-type')).toBe('image/jpeg');
        const jpeg = Buffer.from(await t.arrayBuffer());
        expect(jpeg.subarray(0, 3).toString('hex')).toBe('ffd8ff');
        const meta = await sharp(jpeg).metadata();
        expect(meta.format).toBe('jpeg');
        expect(Math.max(meta.width ?? 0, meta.height ?? 0)).toBeLessThanOrEqual(160);
      }
      const one = await api.call('GET', `/people/${ids.Obama}`);
      expect(one.status).toBe(200);
      expect(one.json).toMatchObject({ id: ids.Obama, name: 'Barack Obama', photos: 1 });
      expect((await api.call('GET', '/health')).json).toMatchObject({ people: 3 });
    },
  );

  it.skipIf(skipRealPeople)('PATCH renames; identify and add-photo use the person', async () => {
    const r = await api.json('PATCH', `/people/${ids.Obama}`, { name: '  Obama ' });
    expect(r.status, errorOf(r)).toBe(200);
    expect(r.json).toMatchObject({ id: ids.Obama, name: 'Obama' });
    const list = (await api.call('GET', '/people')).json as Array<{ name: string }>;
    expect(list.map((p) => p.name)).toEqual(['Alex', 'Biden', 'Obama']);

    const idf = await api.call('POST', '/identify', photo('obama', 'obama2.jpg'));
    expect(idf.status, errorOf(idf)).toBe(200);
    const faces = (idf.json as { faces: Array<{ box: number[]; identity: Record<string, unknown> }> }).faces;
    expect(faces).toHaveLength(1);
    expect(faces[0]?.box).toHaveLength(4);
    expect(faces[0]?.identity).toMatchObject({ personId: ids.Obama, label: 'Obama' });
    expect(faces[0]?.identity.similarity).toBeGreaterThanOrEqual(
      api.vigil.context.faces?.threshold as number,
    );

    // A group photo: every face comes back, none of them is anyone enrolled.
    const group = await api.call('POST', '/identify', readFileSync(samplePhoto(1)));
    expect(group.status).toBe(200);
    const gf = (group.json as { faces: Array<{ identity: { label: string; personId: null } }> }).faces;
    expect(gf.length).toBeGreaterThan(1);
    for (const f of gf) expect(f.identity).toMatchObject({ label: 'unknown', personId: null });

    const add = await api.call('POST', `/people/${ids.Obama}/photos`, photo('obama', 'obama3.jpg'));
    expect(add.status, errorOf(add)).toBe(201);
    expect(add.json).toMatchObject({ id: ids.Obama, photos: 2, embedded: 2 });
  });

  it.skipIf(skipRealPeople)(
    'POST /api/verify: same person, different people, and against an enrolled person',
    async () => {
      const same = await api.json('POST', '/verify', {
        a: b64(photo('obama', 'obama1.jpg')),
        b: b64(photo('obama', 'obama2.jpg')),
      });
      expect(same.status, errorOf(same)).toBe(200);
      expect(same.json).toMatchObject({ same: true });
      const sj = same.json as { similarity: number; distance: number; threshold: { similarity: number } };
      expect(sj.similarity).toBeGreaterThanOrEqual(sj.threshold.similarity);
      expect(sj.distance).toBeCloseTo(Math.sqrt(2 - 2 * sj.similarity), 5);

      const diff = await api.json('POST', '/verify', {
        a: b64(photo('obama', 'obama.jpg')),
        b: b64(photo('biden', 'biden2.jpg')),
      });
      expect(diff.status, errorOf(diff)).toBe(200);
      expect(diff.json).toMatchObject({ same: false });
      expect((diff.json as { similarity: number }).similarity).toBeLessThan(sj.threshold.similarity);

      const vp = await api.call('POST', `/verify?person=${ids.Biden}`, photo('biden', 'biden2.jpg'));
      expect(vp.status, errorOf(vp)).toBe(200);
      expect(vp.json).toMatchObject({ same: true, person: { id: ids.Biden, name: 'Biden' } });
      const vn = await api.call('POST', `/verify?person=${ids.Alex}`, photo('biden', 'biden2.jpg'));
      expect(vn.status, errorOf(vn)).toBe(200);
      expect(vn.json).toMatchObject({ same: false, person: { id: ids.Alex } });
    },
  );

  it.skipIf(skipRealPeople)(
    'DELETE removes a person: 204, then 404, and identification stops finding them',
    async () => {
      const id = ids.Obama as number;
      const d = await api.call('DELETE', `/people/${id}`);
      expect(d.status).toBe(204);
      expect(d.body.length).toBe(0);
      const g = await api.call('GET', `/people/${id}`);
      expect(g.status).toBe(404);
      expect(errorOf(g)).toMatch(new RegExp(`no person with id ${id}`));
      expect((await api.call('GET', `/people/${id}/thumbnail.jpg`)).status).toBe(404);
      expect((await api.call('DELETE', `/people/${id}`)).status).toBe(404);
      const list = (await api.call('GET', '/people')).json as Array<{ id: number }>;
      expect(list.map((p) => p.id)).not.toContain(id);
      const idf = await api.call('POST', '/identify', photo('obama', 'obama2.jpg'));
      const face = (idf.json as { faces: Array<{ identity: { personId: number | null; label: string } }> })
        .faces[0];
      expect(face?.identity).toMatchObject({ personId: null, label: 'unknown' });
      const vp = await api.call('POST', `/verify?person=${id}`, photo('obama', 'obama2.jpg'));
      expect(vp.status).toBe(404);
    },
  );
});
