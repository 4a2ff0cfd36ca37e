import { request } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Vigil } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';
import { facePhotosMissing, galleryState, noFacePng, photo } from '../helpers/faces.js';
import { samplePhoto } from '../helpers/images.js';
import { skipUnless } from '../helpers/requirements.js';

const missing = facePhotosMissing();
const skipRealPeople = skipUnless(missing, 'faces API tests that enroll real people');

const LIMIT = 20 * 1024 * 1024;

interface Res {
  status: number;
  type: string;
  json: unknown;
  body: Buffer;
}

describe('faces HTTP API end to end (pipeline recognize, real models, real SQLite)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-api-'));
  let vigil: Vigil;
  let base: string;
  let huge: Buffer;
  let noFace: Buffer;
  const ids: Record<string, number> = {};

  async function call(
    method: string,
    path: string,
    body?: Buffer | string,
    type: string | null = 'image/jpeg',
  ): Promise<Res> {
    const headers: Record<string, string> = {};
    if (type !== null && body !== undefined) headers['content-type'] = type;
    const payload = body === undefined || typeof body === 'string' ? body : new Uint8Array(body);
    const r = await fetch(`${base}${path}`, { method, body: payload, headers });
    const buf = Buffer.from(await r.arrayBuffer());
    const ct = r.headers.get('content-type') ?? '';
    return {
      status: r.status,
      type: ct,
      body: buf,
      json: ct.startsWith('application/json') ? JSON.parse(buf.toString('utf8')) : undefined,
    };
  }
  const errorOf = (r: Res) => (r.json as { error?: string } | undefined)?.error ?? '';
  const json = (method: string, path: string, v: unknown) =>
    call(method, path, typeof v === 'string' ? v : JSON.stringify(v), 'application/json');
  const b64 = (b: Buffer) => b.toString('base64');

  /** A raw HTTP request whose Content-Length / body the test controls (fetch would fix them up). */
  function rawRequest(
    path: string,
    headers: Record<string, string | number>,
    write: (send: (chunk: Buffer) => Promise<boolean>) => Promise<void>,
  ): Promise<{ status: number; error: string; sent: number }> {
    return new Promise((resolve, reject) => {
      let sent = 0;
      let answered = false;
      const req = request(`${base}${path}`, { method: 'POST', headers }, (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          resolve({
            status: res.statusCode ?? 0,
            error: (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { error: string }).error,
            sent,
          });
          req.destroy();
        });
      });
      req.on('error', (e) => {
        if (!answered) reject(e);
      });
      const send = (chunk: Buffer) =>
        new Promise<boolean>((ok) => {
          if (answered || req.destroyed) return ok(false);
          sent += chunk.length;
          if (req.write(chunk)) ok(true);
          else req.once('drain', () => ok(true));
        });
      write(send).catch(reject);
    });
  }

  beforeAll(async () => {
    [vigil, huge, noFace] = await Promise.all([
      Vigil.start(
        validateConfig({
          server: { host: '127.0.0.1', port: 0 },
          log: { level: 'silent' },
          pipeline: 'recognize',
          dataDir: dir,
          inference: { workers: 1 },
          streams: [
            {
              id: 'cam',
              lavfi: 'testsrc2=size=320x180:rate=5',
              width: 320,
              height: 180,
              detectFps: 2,
              displayFps: 2,
            },
          ],
        }),
      ),
      // 144 megapixels of one grey: a small file that is far too large to decode.
      sharp(Buffer.alloc(12000 * 12000, 128), {
        raw: { width: 12000, height: 12000, channels: 1 },
        limitInputPixels: false,
      })
        .jpeg({ quality: 10 })
        .toBuffer(),
      noFacePng(),
    ]);
    base = `http://127.0.0.1:${vigil.address.port}/api`;
  });

  afterAll(async () => {
    await vigil?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts with face recognition on and an empty gallery', async () => {
    expect(vigil.context.faces).toBeDefined();
    const people = await call('GET', '/people');
    expect(people.status).toBe(200);
    expect(people.json).toEqual([]);
    const health = await call('GET', '/health');
    expect(health.json).toMatchObject({ pipeline: 'recognize', people: 0 });
  });

  it.skipIf(skipRealPeople)(
    'enrolls people from real photos (JPEG and PNG): 201, listed with a JPEG thumbnail',
    async () => {
      const r = await call('POST', '/people?name=Barack%20Obama', photo('obama', 'obama.jpg'));
      expect(r.status, errorOf(r)).toBe(201);
      expect(r.json).toMatchObject({ name: 'Barack Obama', photos: 1, embedded: 1 });
      ids.Obama = (r.json as { id: number }).id;
      const b = await call('POST', '/people?name=Biden', photo('biden', 'biden.jpg'));
      expect(b.status, errorOf(b)).toBe(201);
      ids.Biden = (b.json as { id: number }).id;
      const a = await call(
        'POST',
        '/people?name=Alex',
        photo('alex_lacamoire', 'alex-lacamoire.png'),
        'image/png',
      );
      expect(a.status, errorOf(a)).toBe(201);
      ids.Alex = (a.json as { id: number }).id;
      expect(new Set(Object.values(ids)).size).toBe(3);

      const list = await call('GET', '/people');
      expect(list.status).toBe(200);
      const people = list.json as Array<{ id: number; name: string; photos: number; thumbnail_url: string }>;
      expect(people.map((p) => p.name)).toEqual(['Alex', 'Barack Obama', 'Biden']);
      for (const p of people) {
        expect(p.thumbnail_url).toBe(`/api/people/${p.id}/thumbnail.jpg`);
        const t = await fetch(`http://127.0.0.1:${vigil.address.port}${p.thumbnail_url}`);
        expect(t.status).toBe(200);
        expect(t.headers.get('content-type')).toBe('image/jpeg');
        const jpeg = Buffer.from(await t.arrayBuffer());
        expect(jpeg.subarray(0, 3).toString('hex')).toBe('ffd8ff');
        const meta = await sharp(jpeg).metadata();
        expect(meta.format).toBe('jpeg');
        expect(Math.max(meta.width ?? 0, meta.height ?? 0)).toBeLessThanOrEqual(160);
      }
      const one = await call('GET', `/people/${ids.Obama}`);
      expect(one.status).toBe(200);
      expect(one.json).toMatchObject({ id: ids.Obama, name: 'Barack Obama', photos: 1 });
      expect((await call('GET', '/health')).json).toMatchObject({ people: 3 });
    },
  );

  it.skipIf(skipRealPeople)('PATCH renames; identify and add-photo use the person', async () => {
    const r = await json('PATCH', `/people/${ids.Obama}`, { name: '  Obama ' });
    expect(r.status, errorOf(r)).toBe(200);
    expect(r.json).toMatchObject({ id: ids.Obama, name: 'Obama' });
    const list = (await call('GET', '/people')).json as Array<{ name: string }>;
    expect(list.map((p) => p.name)).toEqual(['Alex', 'Biden', 'Obama']);

    const idf = await call('POST', '/identify', photo('obama', 'obama2.jpg'));
    expect(idf.status, errorOf(idf)).toBe(200);
    const faces = (idf.json as { faces: Array<{ box: number[]; identity: Record<string, unknown> }> }).faces;
    expect(faces).toHaveLength(1);
    expect(faces[0]?.box).toHaveLength(4);
    expect(faces[0]?.identity).toMatchObject({ personId: ids.Obama, label: 'Obama' });
    expect(faces[0]?.identity.similarity).toBeGreaterThanOrEqual(vigil.context.faces?.threshold as number);

    // A group photo: every face comes back, none of them is anyone enrolled.
    const group = await call('POST', '/identify', readFileSync(samplePhoto(1)));
    expect(group.status).toBe(200);
    const gf = (group.json as { faces: Array<{ identity: { label: string; personId: null } }> }).faces;
    expect(gf.length).toBeGreaterThan(1);
    for (const f of gf) expect(f.identity).toMatchObject({ label: 'unknown', personId: null });

    const add = await call('POST', `/people/${ids.Obama}/photos`, photo('obama', 'obama3.jpg'));
    expect(add.status, errorOf(add)).toBe(201);
    expect(add.json).toMatchObject({ id: ids.Obama, photos: 2, embedded: 2 });
  });

  it.skipIf(skipRealPeople)(
    'POST /api/verify: same person, different people, and against an enrolled person',
    async () => {
      const same = await json('POST', '/verify', {
        a: b64(photo('obama', 'obama1.jpg')),
        b: b64(photo('obama', 'obama2.jpg')),
      });
      expect(same.status, errorOf(same)).toBe(200);
      expect(same.json).toMatchObject({ same: true });
      const sj = same.json as { similarity: number; distance: number; threshold: { similarity: number } };
      expect(sj.similarity).toBeGreaterThanOrEqual(sj.threshold.similarity);
      expect(sj.distance).toBeCloseTo(Math.sqrt(2 - 2 * sj.similarity), 5);

      const diff = await json('POST', '/verify', {
        a: b64(photo('obama', 'obama.jpg')),
        b: b64(photo('biden', 'biden2.jpg')),
      });
      expect(diff.status, errorOf(diff)).toBe(200);
      expect(diff.json).toMatchObject({ same: false });
      expect((diff.json as { similarity: number }).similarity).toBeLessThan(sj.threshold.similarity);

      const vp = await call('POST', `/verify?person=${ids.Biden}`, photo('biden', 'biden2.jpg'));
      expect(vp.status, errorOf(vp)).toBe(200);
      expect(vp.json).toMatchObject({ same: true, person: { id: ids.Biden, name: 'Biden' } });
      const vn = await call('POST', `/verify?person=${ids.Alex}`, photo('biden', 'biden2.jpg'));
      expect(vn.status, errorOf(vn)).toBe(200);
      expect(vn.json).toMatchObject({ same: false, person: { id: ids.Alex } });
    },
  );

  describe('bad input: the right 4xx, a message naming the problem, nothing stored changed', () => {
    const truncated = () => {
      const f = missing ? readFileSync(samplePhoto(2)) : photo('biden', 'biden2.jpg');
      return f.subarray(0, f.length >> 1);
    };
    const existing = () => ids.Biden ?? 1;
    const cases: Array<[string, () => Promise<Res>, number, RegExp]> = [
      [
        'an image with no face',
        () => call('POST', '/people?name=Nobody', noFace, 'image/png'),
        422,
        /image: no face found/,
      ],
      [
        'an image with several faces',
        () => call('POST', '/people?name=Group', readFileSync(samplePhoto(1))),
        422,
        /\d+ faces found; enrollment needs a photo of one person/,
      ],
      [
        'a 144-megapixel image',
        () => call('POST', '/people?name=Huge', huge),
        413,
        /image too large: 12000x12000 is 144 megapixels, the limit is 40/,
      ],
      [
        'a truncated JPEG',
        () => call('POST', '/people?name=Half', truncated()),
        422,
        /cannot decode image: .*(premature end|truncated)/i,
      ],
      [
        'a body that is not an image',
        () => call('POST', '/people?name=Text', 'hello, I am text'),
        422,
        /not a readable image/,
      ],
      [
        'a wrong Content-Type',
        () => call('POST', '/people?name=Typed', readFileSync(samplePhoto(3)), 'text/plain'),
        415,
        /Content-Type image\/jpeg.*\(got "text\/plain"\)/,
      ],
      [
        'no Content-Type',
        () => call('POST', '/identify', readFileSync(samplePhoto(3)), null),
        415,
        /\(got "none"\)/,
      ],
      [
        'an empty body',
        () => call('POST', '/people?name=Empty', Buffer.alloc(0)),
        400,
        /request body is empty/,
      ],
      [
        'an empty body to identify',
        () => call('POST', '/identify', Buffer.alloc(0)),
        400,
        /request body is empty/,
      ],
      ['a missing name', () => call('POST', '/people', noFace, 'image/png'), 400, /name is required/],
      [
        'an empty name',
        () => call('POST', '/people?name=', noFace, 'image/png'),
        400,
        /name must not be empty/,
      ],
      [
        'a whitespace name',
        () => call('POST', '/people?name=%20%20%09', noFace, 'image/png'),
        400,
        /name must not be empty/,
      ],
      [
        'a name over 100 characters',
        () => call('POST', `/people?name=${'x'.repeat(101)}`, noFace, 'image/png'),
        400,
        /longer than 100/,
      ],
      [
        'a name with control characters',
        () => call('POST', '/people?name=a%0Ab', noFace, 'image/png'),
        400,
        /control characters/,
      ],
      [
        'the reserved name "unknown"',
        () => call('POST', '/people?name=Unknown', noFace, 'image/png'),
        400,
        /"unknown" is reserved/,
      ],
      [
        'a person id that does not exist',
        () => call('GET', '/people/999999'),
        404,
        /no person with id 999999/,
      ],
      [
        'a non-numeric person id',
        () => call('GET', '/people/abc'),
        404,
        /no API endpoint \/api\/people\/abc/,
      ],
      ['person id 0', () => call('GET', '/people/0'), 400, /invalid (person )?id "0"/],
      [
        'deleting a person that does not exist',
        () => call('DELETE', '/people/999999'),
        404,
        /no person with id 999999/,
      ],
      [
        'renaming a person that does not exist',
        () => json('PATCH', '/people/999999', { name: 'Ghost' }),
        404,
        /no person with id 999999/,
      ],
      [
        'a photo for a person that does not exist',
        () => call('POST', '/people/999999/photos', noFace, 'image/png'),
        404,
        /no person with id 999999/,
      ],
      [
        'the thumbnail of a person that does not exist',
        () => call('GET', '/people/999999/thumbnail.jpg'),
        404,
        /no person with id 999999/,
      ],
      [
        'malformed JSON for PATCH',
        () => json('PATCH', `/people/${existing()}`, '{"name": "Half'),
        400,
        /not valid JSON/,
      ],
      [
        'a PATCH body of the wrong shape',
        () => json('PATCH', `/people/${existing()}`, { name: 5 }),
        400,
        /invalid body: name/,
      ],
      [
        'a PATCH with an unknown key',
        () => json('PATCH', `/people/${existing()}`, { name: 'X', age: 3 }),
        400,
        /invalid body/,
      ],
      [
        'a PATCH that is not JSON',
        () => call('PATCH', `/people/${existing()}`, 'name=X', 'text/plain'),
        415,
        /application\/json/,
      ],
      [
        'a PATCH to the reserved name',
        () => json('PATCH', `/people/${existing()}`, { name: 'UNKNOWN' }),
        400,
        /reserved/,
      ],
      [
        'a PATCH to an empty name',
        () => json('PATCH', `/people/${existing()}`, { name: ' ' }),
        400,
        /must not be empty/,
      ],
      ['malformed JSON for verify', () => json('POST', '/verify', '{"a": '), 400, /not valid JSON/],
      [
        'verify with a non-base64 image',
        () => json('POST', '/verify', { a: 'not*base64!', b: 'AAAA' }),
        400,
        /invalid body: a: must be base64/,
      ],
      ['verify without b', () => json('POST', '/verify', { a: b64(noFace) }), 400, /invalid body: b/],
      [
        'verify with an image without a face',
        () => json('POST', '/verify', { a: b64(noFace), b: b64(readFileSync(samplePhoto(1))) }),
        422,
        /image a: no face found/,
      ],
      [
        'verify with an image that is not one',
        () => json('POST', '/verify', { a: b64(readFileSync(samplePhoto(1))), b: b64(Buffer.from('text')) }),
        422,
        /image b: not a readable image/,
      ],
      [
        'verify against a person that does not exist',
        () => call('POST', '/verify?person=999999', readFileSync(samplePhoto(1))),
        404,
        /no person with id 999999/,
      ],
      [
        'verify against a non-numeric person id',
        () => call('POST', '/verify?person=abc', readFileSync(samplePhoto(1))),
        400,
        /invalid id "abc"/,
      ],
      [
        'enrolling from an alert that does not exist',
        () => call('POST', '/people/from-alert/999999?name=X'),
        404,
        /alert 999999 has no snapshot/,
      ],
      [
        'a snapshot of an alert that does not exist',
        () => call('GET', '/alerts/999999/snapshot.jpg'),
        404,
        /alert 999999 has no snapshot/,
      ],
      ['alerts before a non-numeric id', () => call('GET', '/alerts?before=abc'), 400, /invalid id "abc"/],
      ['an unknown route', () => call('GET', '/nothing-here'), 404, /no API endpoint \/api\/nothing-here/],
      [
        'a wrong method on the collection',
        () => call('DELETE', '/people'),
        405,
        /method DELETE not allowed on \/api\/people \(allowed: GET, POST\)/,
      ],
      [
        'a wrong method on a person',
        () => call('PUT', `/people/${existing()}`, noFace, 'image/png'),
        405,
        /method PUT not allowed.*allowed: GET, PATCH, DELETE/,
      ],
      [
        'a wrong method on identify',
        () => call('GET', '/identify'),
        405,
        /method GET not allowed on \/api\/identify/,
      ],
    ];
    if (!missing)
      cases.push(
        [
          'a duplicate name (case-insensitive)',
          () => call('POST', '/people?name=bIdEn', photo('biden', 'biden2.jpg')),
          409,
          /a person named "bIdEn" already exists/,
        ],
        [
          'a rename onto another person (case-insensitive)',
          () => json('PATCH', `/people/${existing()}`, { name: 'alex' }),
          409,
          /a person named "alex" already exists/,
        ],
        [
          'a photo with several faces for a person',
          () => call('POST', `/people/${existing()}/photos`, readFileSync(samplePhoto(4))),
          422,
          /\d+ faces found/,
        ],
      );

    it.each(cases)('%s', async (_what, send, status, message) => {
      const db = vigil.context.faces?.gallery.db;
      if (!db) throw new Error('no gallery');
      const before = galleryState(db);
      const listBefore = (await call('GET', '/people')).json;
      const r = await send();
      expect(r.status, `${r.status} ${errorOf(r)}`).toBe(status);
      expect(r.type).toMatch(/^application\/json/);
      expect(errorOf(r)).toMatch(message);
      expect(galleryState(db)).toEqual(before);
      expect((await call('GET', '/people')).json).toEqual(listBefore);
    });

    it('a declared Content-Length over 20 MiB is refused with 413 before the body is read', async () => {
      const db = vigil.context.faces?.gallery.db;
      if (!db) throw new Error('no gallery');
      const before = galleryState(db);
      const r = await rawRequest(
        '/people?name=Big',
        { 'content-type': 'image/jpeg', 'content-length': LIMIT + 5 * 1024 * 1024 },
        async (send) => {
          await send(Buffer.alloc(64 * 1024, 0xff));
        },
      );
      expect(r.status).toBe(413);
      expect(r.error).toMatch(
        new RegExp(`body of ${LIMIT + 5 * 1024 * 1024} bytes exceeds the limit of ${LIMIT}`),
      );
      expect(r.sent).toBeLessThan(LIMIT);
      expect(galleryState(db)).toEqual(before);
    });

    it('a streamed (chunked) body over 20 MiB is cut off with 413; the server keeps serving', async () => {
      const db = vigil.context.faces?.gallery.db;
      if (!db) throw new Error('no gallery');
      const before = galleryState(db);
      const rssBefore = process.memoryUsage().rss;
      const chunk = Buffer.alloc(1024 * 1024, 0xab);
      const r = await rawRequest('/identify', { 'content-type': 'image/jpeg' }, async (send) => {
        for (let i = 0; i < 40; i++) if (!(await send(chunk))) return;
      });
      expect(r.status).toBe(413);
      expect(r.error).toMatch(new RegExp(`body exceeds the limit of ${LIMIT} bytes`));
      expect(r.sent).toBeGreaterThan(LIMIT);
      expect(process.memoryUsage().rss - rssBefore).toBeLessThan(200 * 1024 * 1024);
      expect(galleryState(db)).toEqual(before);
      const h = await call('GET', '/health');
      expect(h.status).toBe(200);
    });
  });

  it('GET /api/alerts pages with ?before= and serves snapshots', async () => {
    const store = vigil.context.faces?.alerts;
    if (!store) throw new Error('no alert store');
    const first = await call('GET', '/alerts');
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

    const p1 = (await call('GET', '/alerts?limit=2')).json as Array<{ id: number }>;
    expect(p1.map((a) => a.id)).toEqual(newest.slice(0, 2));
    const p2 = (await call('GET', `/alerts?limit=2&before=${p1.at(-1)?.id}`)).json as Array<{ id: number }>;
    expect(p2.map((a) => a.id)).toEqual(newest.slice(2, 4));
    const p3 = (await call('GET', `/alerts?limit=2&before=${p2.at(-1)?.id}`)).json as Array<{ id: number }>;
    expect(p3.map((a) => a.id).slice(0, 1)).toEqual(newest.slice(4, 5));

    const all = (await call('GET', '/alerts')).json as Array<Record<string, unknown>>;
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
    const door = (await call('GET', '/alerts?camera=door')).json as Array<{ camera: string }>;
    expect(door.length).toBeGreaterThanOrEqual(2);
    expect(door.every((a) => a.camera === 'door')).toBe(true);
    const biden = (await call('GET', '/alerts?label=Biden')).json as Array<{ id: number }>;
    expect(biden.map((a) => a.id)).toContain(newest[1]);

    const s = await call('GET', `/alerts/${newest[1]}/snapshot.jpg`);
    expect(s.status).toBe(200);
    expect(s.type).toBe('image/jpeg');
    expect(s.body.equals(snap)).toBe(true);
    const none = await call('GET', `/alerts/${added[1]?.id}/snapshot.jpg`);
    expect(none.status).toBe(404);
    expect(errorOf(none)).toMatch(/has no snapshot/);

    if (!missing) {
      // An operator names the face of an alert: it is enrolled from the snapshot.
      const e = await call('POST', `/people/from-alert/${newest[0]}?name=Rose`);
      expect(e.status, errorOf(e)).toBe(201);
      expect(e.json).toMatchObject({ name: 'Rose', photos: 1, embedded: 1 });
      ids.Rose = (e.json as { id: number }).id;
      const who = await call('POST', '/identify', photo('rose_leslie', 'img2.jpg'));
      expect(
        (who.json as { faces: Array<{ identity: { personId: number } }> }).faces[0]?.identity.personId,
      ).toBe(ids.Rose);
    }
  });

  it.skipIf(skipRealPeople)(
    'DELETE removes a person: 204, then 404, and identification stops finding them',
    async () => {
      const id = ids.Obama as number;
      const d = await call('DELETE', `/people/${id}`);
      expect(d.status).toBe(204);
      expect(d.body.length).toBe(0);
      const g = await call('GET', `/people/${id}`);
      expect(g.status).toBe(404);
      expect(errorOf(g)).toMatch(new RegExp(`no person with id ${id}`));
      expect((await call('GET', `/people/${id}/thumbnail.jpg`)).status).toBe(404);
      expect((await call('DELETE', `/people/${id}`)).status).toBe(404);
      const list = (await call('GET', '/people')).json as Array<{ id: number }>;
      expect(list.map((p) => p.id)).not.toContain(id);
      const idf = await call('POST', '/identify', photo('obama', 'obama2.jpg'));
      const face = (idf.json as { faces: Array<{ identity: { personId: number | null; label: string } }> })
        .faces[0];
      expect(face?.identity).toMatchObject({ personId: null, label: 'unknown' });
      const vp = await call('POST', `/verify?person=${id}`, photo('obama', 'obama2.jpg'));
      expect(vp.status).toBe(404);
    },
  );
});
