/**
 * Bad input to the faces API: the right 4xx, a message naming the problem, and nothing stored
 * changed (the gallery's rows and the people list compared before and after each request), on a
 * real Vigil with three people enrolled (when the shared photos are there).
 */
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { b64, enrollThree, errorOf, LIMIT, type Res, useFacesApi } from '../helpers/faces-api.js';
import { facePhotosMissing, galleryState, noFacePng, photo } from '../helpers/faces.js';
import { samplePhoto } from '../helpers/images.js';

const missing = facePhotosMissing();

describe('faces HTTP API end to end: bad input (pipeline recognize, real models, real SQLite)', () => {
  let huge: Buffer;
  let noFace: Buffer;
  let ids: Record<string, number> = {};
  const api = useFacesApi(async () => {
    [huge, noFace] = await Promise.all([
      // 144 megapixels of one grey: a small file that is far too large to decode.
      sharp(Buffer.alloc(12000 * 12000, 128), {
        raw: { width: 12000, height: 12000, channels: 1 },
        limitInputPixels: false,
      })
        .jpeg({ quality: 10 })
        .toBuffer(),
      noFacePng(),
    ]);
  });
  beforeAll(async () => {
    if (!missing) ids = await enrollThree(api);
  });

  describe('bad input: the right 4xx, a message naming the problem, nothing stored changed', () => {
    const truncated = () => {
      const f = missing ? readFileSync(samplePhoto(2)) : photo('biden', 'biden2.jpg');
      return f.subarray(0, f.length >> 1);
    };
    const existing = () => ids.Biden ?? 1;
    const cases: Array<[string, () => Promise<Res>, number, RegExp]> = [
      [
        'an image with no face',
        () => api.call('POST', '/people?name=Nobody', noFace, 'image/png'),
        422,
        /image: no face found/,
      ],
      [
        'an image with several faces',
        () => api.call('POST', '/people?name=Group', readFileSync(samplePhoto(1))),
        422,
        /\d+ faces found; enrollment needs a photo of one person/,
      ],
      [
        'a 144-megapixel image',
        () => api.call('POST', '/people?name=Huge', huge),
        413,
        /image too large: 12000x12000 is 144 megapixels, the limit is 40/,
      ],
      [
        'a truncated JPEG',
        () => api.call('POST', '/people?name=Half', truncated()),
        422,
        /cannot decode image: .*(premature end|truncated)/i,
      ],
      [
        'a body that is not an image',
        () => api.call('POST', '/people?name=Text', 'hello, I am text'),
        422,
        /not a readable image/,
      ],
      [
        'a wrong Content-Type',
        () => api.call('POST', '/people?name=Typed', readFileSync(samplePhoto(3)), 'text/plain'),
        415,
        /Content-Type image\/jpeg.*\(got "text\/plain"\)/,
      ],
      [
        'no Content-Type',
        () => api.call('POST', '/identify', readFileSync(samplePhoto(3)), null),
        415,
        /\(got "none"\)/,
      ],
      [
        'an empty body',
        () => api.call('POST', '/people?name=Empty', Buffer.alloc(0)),
        400,
        /request body is empty/,
      ],
      [
        'an empty body to identify',
        () => api.call('POST', '/identify', Buffer.alloc(0)),
        400,
        /request body is empty/,
      ],
      ['a missing name', () => api.call('POST', '/people', noFace, 'image/png'), 400, /name is required/],
      [
        'an empty name',
        () => api.call('POST', '/people?name=', noFace, 'image/png'),
        400,
        /name must not be empty/,
      ],
      [
        'a whitespace name',
        () => api.call('POST', '/people?name=%20%20%09', noFace, 'image/png'),
        400,
        /name must not be empty/,
      ],
      [
        'a name over 100 characters',
        () => api.call('POST', `/people?name=${'x'.repeat(101)}`, noFace, 'image/png'),
        400,
        /longer than 100/,
      ],
      [
        'a name with control characters',
        () => api.call('POST', '/people?name=a%0Ab', noFace, 'image/png'),
        400,
        /control characters/,
      ],
      [
        'the reserved name "unknown"',
        () => api.call('POST', '/people?name=Unknown', noFace, 'image/png'),
        400,
        /"unknown" is reserved/,
      ],
      [
        'a person id that does not exist',
        () => api.call('GET', '/people/999999'),
        404,
        /no person with id 999999/,
      ],
      [
        'a non-numeric person id',
        () => api.call('GET', '/people/abc'),
        404,
        /no API endpoint \/api\/people\/abc/,
      ],
      ['person id 0', () => api.call('GET', '/people/0'), 400, /invalid (person )?id "0"/],
      [
        'deleting a person that does not exist',
        () => api.call('DELETE', '/people/999999'),
        404,
        /no person with id 999999/,
      ],
      [
        'renaming a person that does not exist',
        () => api.json('PATCH', '/people/999999', { name: 'Ghost' }),
        404,
        /no person with id 999999/,
      ],
      [
        'a photo for a person that does not exist',
        () => api.call('POST', '/people/999999/photos', noFace, 'image/png'),
        404,
        /no person with id 999999/,
      ],
      [
        'the thumbnail of a person that does not exist',
        () => api.call('GET', '/people/999999/thumbnail.jpg'),
        404,
        /no person with id 999999/,
      ],
      [
        'malformed JSON for PATCH',
        () => api.json('PATCH', `/people/${existing()}`, '{"name": "Half'),
        400,
        /not valid JSON/,
      ],
      [
        'a PATCH body of the wrong shape',
        () => api.json('PATCH', `/people/${existing()}`, { name: 5 }),
        400,
        /invalid body: name/,
      ],
      [
        'a PATCH with an unknown key',
        () => api.json('PATCH', `/people/${existing()}`, { name: 'X', age: 3 }),
        400,
        /invalid body/,
      ],
      [
        'a PATCH that is not JSON',
        () => api.call('PATCH', `/people/${existing()}`, 'name=X', 'text/plain'),
        415,
        /application\/json/,
      ],
      [
        'a PATCH to the reserved name',
        () => api.json('PATCH', `/people/${existing()}`, { name: 'UNKNOWN' }),
        400,
        /reserved/,
      ],
      [
        'a PATCH to an empty name',
        () => api.json('PATCH', `/people/${existing()}`, { name: ' ' }),
        400,
        /must not be empty/,
      ],
      ['malformed JSON for verify', () => api.json('POST', '/verify', '{"a": '), 400, /not valid JSON/],
      [
        'verify with a non-base64 image',
        () => api.json('POST', '/verify', { a: 'not*base64!', b: 'AAAA' }),
        400,
        /invalid body: a: must be base64/,
      ],
      ['verify without b', () => api.json('POST', '/verify', { a: b64(noFace) }), 400, /invalid body: b/],
      [
        'verify with an image without a face',
        () => api.json('POST', '/verify', { a: b64(noFace), b: b64(readFileSync(samplePhoto(1))) }),
        422,
        /image a: no face found/,
      ],
      [
        'verify with an image that is not one',
        () =>
          api.json('POST', '/verify', { a: b64(readFileSync(samplePhoto(1))), b: b64(Buffer.from('text')) }),
        422,
        /image b: not a readable image/,
      ],
      [
        'verify against a person that does not exist',
        () => api.call('POST', '/verify?person=999999', readFileSync(samplePhoto(1))),
        404,
        /no person with id 999999/,
      ],
      [
        'verify against a non-numeric person id',
        () => api.call('POST', '/verify?person=abc', readFileSync(samplePhoto(1))),
        400,
        /invalid id "abc"/,
      ],
      [
        'enrolling from an alert that does not exist',
        () => api.call('POST', '/people/from-alert/999999?name=X'),
        404,
        /alert 999999 has no snapshot/,
      ],
      [
        'a snapshot of an alert that does not exist',
        () => api.call('GET', '/alerts/999999/snapshot.jpg'),
        404,
        /alert 999999 has no snapshot/,
      ],
      [
        'alerts before a non-numeric id',
        () => api.call('GET', '/alerts?before=abc'),
        400,
        /invalid id "abc"/,
      ],
      [
        'an unknown route',
        () => api.call('GET', '/nothing-here'),
        404,
        /no API endpoint \/api\/nothing-here/,
      ],
      [
        'a wrong method on the collection',
        () => api.call('DELETE', '/people'),
        405,
        /method DELETE not allowed on \/api\/people \(allowed: GET, POST\)/,
      ],
      [
        'a wrong method on a person',
        () => api.call('PUT', `/people/${existing()}`, noFace, 'image/png'),
        405,
        /method PUT not allowed.*allowed: GET, PATCH, DELETE/,
      ],
      [
        'a wrong method on identify',
        () => api.call('GET', '/identify'),
        405,
        /method GET not allowed on \/api\/identify/,
      ],
    ];
    if (!missing)
      cases.push(
        [
          'a duplicate name (case-insensitive)',
          () => api.call('POST', '/people?name=bIdEn', photo('biden', 'biden2.jpg')),
          409,
          /a person named "bIdEn" already exists/,
        ],
        [
          'a rename onto another person (case-insensitive)',
          () => api.json('PATCH', `/people/${existing()}`, { name: 'alex' }),
          409,
          /a person named "alex" already exists/,
        ],
        [
          'a photo with several faces for a person',
          () => api.call('POST', `/people/${existing()}/photos`, readFileSync(samplePhoto(4))),
          422,
          /\d+ faces found/,
        ],
      );

    it.each(cases)('%s', async (_what, send, status, message) => {
      const db = api.vigil.context.faces?.gallery.db;
      if (!db) throw new Error('no gallery');
      const before = galleryState(db);
      const listBefore = (await api.call('GET', '/people')).json;
      const r = await send();
      expect(r.status, `${r.status} ${errorOf(r)}`).toBe(status);
      expect(r.type).toMatch(/^application\/problem\+json/);
      expect(errorOf(r)).toMatch(message);
      expect(galleryState(db)).toEqual(before);
      expect((await api.call('GET', '/people')).json).toEqual(listBefore);
    });

    it('a declared Content-Length over 20 MiB is refused with 413 before the body is read', async () => {
      const db = api.vigil.context.faces?.gallery.db;
      if (!db) throw new Error('no gallery');
      const before = galleryState(db);
      const r = await api.rawRequest(
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
      const db = api.vigil.context.faces?.gallery.db;
      if (!db) throw new Error('no gallery');
      const before = galleryState(db);
      const rssBefore = process.memoryUsage().rss;
      const chunk = Buffer.alloc(1024 * 1024, 0xab);
      const r = await api.rawRequest('/identify', { 'content-type': 'image/jpeg' }, async (send) => {
        for (let i = 0; i < 40; i++) if (!(await send(chunk))) return;
      });
      expect(r.status).toBe(413);
      expect(r.error).toMatch(new RegExp(`body exceeds the limit of ${LIMIT} bytes`));
      expect(r.sent).toBeGreaterThan(LIMIT);
      expect(process.memoryUsage().rss - rssBefore).toBeLessThan(200 * 1024 * 1024);
      expect(galleryState(db)).toEqual(before);
      const h = await api.call('GET', '/health');
      expect(h.status).toBe(200);
    });
  });
});
