import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Gallery, GalleryError, type GalleryMatrix } from '../../src/faces/gallery/gallery.js';
import { ImageError } from '../../src/util/image.js';
import type { FaceService } from '../../src/faces/service.js';
import { embedDim } from '../../src/faces/tasks/index.js';
import type { InferenceHost } from '../../src/inference/host.js';
import {
  DATA,
  facePhotosMissing,
  galleryState,
  openGallery,
  photo,
  recognizeSettings,
  rowsOf,
  serviceOn,
  startHost,
} from '../helpers/faces.js';
import { samplePhoto } from '../helpers/images.js';
import { skipUnless } from '../helpers/requirements.js';

const missing = facePhotosMissing();
const skip = skipUnless(missing, 'gallery tests');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

async function waitFor<T>(fn: () => T | undefined, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(25);
  }
}

/** Who a photo's single face is, through the service (real detection, embedding and matching). */
async function whoIs(service: FaceService, image: Buffer) {
  const faces = await service.identify(image);
  expect(faces, 'faces found').toHaveLength(1);
  return (faces[0] as (typeof faces)[number]).identity;
}

describe.skipIf(skip)('Gallery + FaceService: real models in a worker, a real SQLite file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-gallery-'));
  const file = join(dir, 'data', 'vigil.db');
  const { rec, space, threshold } = recognizeSettings();
  let host: InferenceHost;
  let host2: InferenceHost | undefined;
  let gallery: Gallery;
  let service: FaceService;
  let detach: () => void = () => {};
  const others: Gallery[] = [];
  const ids: Record<string, number> = {};
  const restarts: number[] = [];
  /** A second photo of each enrolled person (the first was enrolled). */
  const queries: Record<string, [string, string]> = {
    Biden: ['biden', 'biden2.jpg'],
    Alex: ['alex_lacamoire', 'img1.jpg'],
    Rose: ['rose_leslie', 'img2.jpg'],
    Kit: ['kit_harington', 'johnsnow_test1.jpg'],
  };

  beforeAll(async () => {
    host = await startHost(rec, { onRestart: () => restarts.push(Date.now()) });
    gallery = openGallery(file, rec.model, space, embedDim(host));
    ({ service, detach } = serviceOn(host, gallery, rec, threshold));
  });

  afterAll(async () => {
    detach();
    gallery?.close();
    for (const g of others) g.close();
    await host?.close();
    await host2?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('concurrent enrollments all succeed with unique ids; a same-name race stores one person', async () => {
    const people: Array<[string, string, string]> = [
      ['Obama', 'obama', 'obama.jpg'],
      ['Biden', 'biden', 'biden.jpg'],
      ['Alex', 'alex_lacamoire', 'alex_lacamoire1.jpg'],
      ['Rose', 'rose_leslie', 'img1.jpg'],
      ['Kit', 'kit_harington', 'john2.jpeg'],
    ];
    // All six start before any finishes: each passes the early name check, the transaction decides.
    const results = await Promise.allSettled([
      ...people.map(([name, dirName, f]) => service.enroll(name, [photo(dirName, f)])),
      service.enroll('OBAMA', [photo('obama', 'obama2.jpg')]),
    ]);
    for (const r of results.slice(1, 5))
      expect(r.status, String((r as PromiseRejectedResult).reason)).toBe('fulfilled');
    const race = [results[0], results[5]] as PromiseSettledResult<unknown>[];
    expect(race.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const lost = race.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(lost.reason).toBeInstanceOf(GalleryError);
    expect((lost.reason as GalleryError).status).toBe(409);
    expect((lost.reason as Error).message).toMatch(/a person named "obama" already exists/i);

    const list = gallery.list();
    expect(list).toHaveLength(5);
    for (const p of list) {
      ids[p.name === 'OBAMA' ? 'Obama' : p.name] = p.id;
      expect(p).toMatchObject({ photos: 1, embedded: 1 });
    }
    expect(Object.keys(ids).sort()).toEqual(['Alex', 'Biden', 'Kit', 'Obama', 'Rose']);
    expect(new Set(Object.values(ids)).size).toBe(5);
    // One matrix row per stored photo; the loser of the race stored nothing (no half-written rows).
    const m = gallery.matrix();
    expect(m.rows).toBe(5);
    expect(m.data.length).toBe(5 * m.dim);
    expect(m.dim).toBe(embedDim(host));
    for (const id of Object.values(ids)) expect(rowsOf(m, id)).toBe(1);
    const count = (t: string) =>
      (gallery.db.prepare(`SELECT COUNT(*) AS n FROM ${t}`).get() as { n: number }).n;
    expect([count('people'), count('photos'), count('embeddings')]).toEqual([5, 5, 5]);
    // Stored rows are L2-normalised.
    for (let r = 0; r < m.rows; r++) {
      let n = 0;
      for (const v of m.data.subarray(r * m.dim, (r + 1) * m.dim)) n += v * v;
      expect(Math.sqrt(n)).toBeCloseTo(1, 3);
    }
  });

  it('identifies each enrolled person from another photo of them', async () => {
    const queries: Array<[string, string, string]> = [
      ['Biden', 'biden', 'biden2.jpg'],
      ['Alex', 'alex_lacamoire', 'img1.jpg'],
      ['Rose', 'rose_leslie', 'img2.jpg'],
      ['Kit', 'kit_harington', 'johnsnow_test1.jpg'],
    ];
    for (const [name, dirName, f] of queries) {
      const id = await whoIs(service, photo(dirName, f));
      expect(id.personId, `${dirName}/${f}`).toBe(ids[name]);
      expect(id.similarity).toBeGreaterThanOrEqual(threshold);
    }
  });

  it('several photos per person are all used: a second photo raises the similarity of a harder one', async () => {
    const hard = photo('kit_harington', 'johnsnow_test1.jpg');
    const kit = ids.Kit as number;
    const before = await whoIs(service, hard);
    const p = await service.addPhoto(kit, photo('kit_harington', 'john1.jpeg'));
    expect(p).toMatchObject({ id: kit, name: 'Kit', photos: 2, embedded: 2 });
    expect(rowsOf(gallery.matrix(), kit)).toBe(2);
    const after = await whoIs(service, hard);
    expect(after.personId).toBe(kit);
    expect(after.similarity).toBeGreaterThan(before.similarity + 0.05);
    const v = await service.verifyPerson(hard, kit);
    expect(v.same).toBe(true);
    expect(v.person.id).toBe(kit);
    expect(v.similarity).toBeCloseTo(after.similarity, 3); // best of the person's photos
    // A photo with several faces is refused and adds nothing.
    await expect(service.addPhoto(kit, readFileSync(samplePhoto(1)))).rejects.toThrow(
      /image: \d+ faces found; enrollment needs a photo of one person/,
    );
    expect(gallery.person(kit).photos).toBe(2);
    expect(rowsOf(gallery.matrix(), kit)).toBe(2);
  });

  it('a restart keeps everything: same people, same embedding bytes, and identification still works', async () => {
    const state = galleryState(gallery.db);
    const people = gallery.list();
    const m = gallery.matrix();
    const data = Buffer.from(bytes(m.data));
    const rowPerson = Array.from(m.rowPerson);
    detach();
    gallery.close();

    gallery = openGallery(file, rec.model, space, embedDim(host));
    ({ service, detach } = serviceOn(host, gallery, rec, threshold));
    expect(galleryState(gallery.db)).toEqual(state);
    expect(gallery.list()).toEqual(people);
    const m2 = gallery.matrix();
    expect(m2.rows).toBe(m.rows);
    expect(bytes(m2.data).equals(data)).toBe(true);
    expect(Array.from(m2.rowPerson)).toEqual(rowPerson);
    expect([...m2.names.entries()].sort()).toEqual([...m.names.entries()].sort());

    const id = await whoIs(service, photo('obama', 'obama2.jpg'));
    expect(id).toMatchObject({ personId: ids.Obama, label: gallery.person(ids.Obama as number).name });
    expect(id.similarity).toBeGreaterThanOrEqual(threshold);
  });

  it('another Gallery on the same file (another process) sees an enrollment through onChange within 2.5 s', async () => {
    const other = openGallery(file, rec.model, space, embedDim(host));
    others.push(other);
    const seen: Array<{ at: number; m: GalleryMatrix }> = [];
    other.onChange((m) => seen.push({ at: Date.now(), m }));
    const rowsBefore = other.matrix().rows;
    const crops = join(DATA, 'faces', 'dlib_johns_crops', 'John_Salley');
    const crop = readFileSync(join(crops, readdirSync(crops).sort()[0] as string));
    const p = await service.enroll('John Salley', [crop]);
    const enrolledAt = Date.now();
    const hit = await waitFor(
      () => seen.find((s) => s.m.names.get(p.id) === 'John Salley'),
      2500,
      'the second instance to see John Salley',
    );
    expect(hit.at - enrolledAt).toBeLessThan(2500);
    expect(hit.m.rows).toBe(rowsBefore + 1);
    expect(rowsOf(hit.m, p.id)).toBe(1);
    expect(other.list().map((x) => x.name)).toContain('John Salley');
    // The vector the other instance reads is the one stored by the first.
    const mine = gallery.matrix();
    const r1 = Array.from(mine.rowPerson).indexOf(p.id);
    const r2 = Array.from(hit.m.rowPerson).indexOf(p.id);
    expect(
      bytes(hit.m.data.subarray(r2 * hit.m.dim, (r2 + 1) * hit.m.dim)).equals(
        bytes(mine.data.subarray(r1 * mine.dim, (r1 + 1) * mine.dim)),
      ),
    ).toBe(true);
  });

  it('deleting a person removes them from matching at once, without a restart', async () => {
    const obama = ids.Obama as number;
    const query = photo('obama', 'obama2.jpg');
    expect((await whoIs(service, query)).personId).toBe(obama);
    gallery.delete(obama);
    const after = await whoIs(service, query);
    expect(after.personId).toBeNull();
    expect(after.label).toBe('unknown');
    expect(after.nearest?.personId).not.toBe(obama);
    const m = gallery.matrix();
    expect(rowsOf(m, obama)).toBe(0);
    expect(m.names.has(obama)).toBe(false);
    expect(() => gallery.person(obama)).toThrow(expect.objectContaining({ status: 404 }));
    await expect(service.verifyPerson(query, obama)).rejects.toMatchObject({ status: 404 });
    // Photos and embeddings went with the person (no orphans).
    const n = (sql: string, ...args: unknown[]) => (gallery.db.prepare(sql).get(...args) as { n: number }).n;
    expect(n('SELECT COUNT(*) AS n FROM photos WHERE person_id = ?', obama)).toBe(0);
    expect(n('SELECT COUNT(*) AS n FROM embeddings WHERE photo_id NOT IN (SELECT id FROM photos)')).toBe(0);
    // ...and the other instance drops them too.
    const other = others[0] as Gallery;
    await waitFor(() => (other.matrix().names.has(obama) ? undefined : true), 2500, 'the deletion elsewhere');
    expect(rowsOf(other.matrix(), obama)).toBe(0);
  });

  it('a space change never mixes vectors: empty matrix until reembed, then full again and identification works', async () => {
    const alt = recognizeSettings({ align: true, context: 1.2 });
    expect(alt.space).not.toBe(space);
    const boxBefore = galleryState(gallery.db).embeddings;
    const boxMatrix = Buffer.from(bytes(gallery.matrix().data));
    const photoIds = (
      gallery.db.prepare('SELECT id FROM photos ORDER BY id').all() as Array<{ id: number }>
    ).map((p) => p.id);
    expect(photoIds.length).toBeGreaterThanOrEqual(6);

    const g3 = openGallery(file, rec.model, alt.space, embedDim(host));
    others.push(g3);
    expect(g3.matrix().rows).toBe(0);
    expect(g3.photosToEmbed().map((p) => p.id)).toEqual(photoIds);
    expect(g3.list().every((p) => p.photos > 0 && p.embedded === 0)).toBe(true);

    host2 = await startHost(alt.rec);
    const s3 = serviceOn(host2, g3, alt.rec, alt.threshold);
    try {
      const biden2 = photo('biden', 'biden2.jpg');
      const none = await whoIs(s3.service, biden2);
      expect(none.label).toBe('unknown');
      expect(none.nearest).toBeUndefined(); // nothing at all to compare with in this space
      await expect(s3.service.verifyPerson(biden2, ids.Biden as number)).rejects.toMatchObject({
        status: 409,
      });

      const progress: Array<[number, number]> = [];
      const n = await s3.service.reembed((d, t) => progress.push([d, t]));
      expect(n).toBe(photoIds.length);
      expect(progress.at(-1)).toEqual([n, n]);
      const m = g3.matrix();
      expect(m.rows).toBe(photoIds.length);
      expect(g3.photosToEmbed()).toEqual([]);
      expect(g3.list().every((p) => p.embedded === p.photos)).toBe(true);
      expect(await s3.service.reembed()).toBe(0);

      const found = await whoIs(s3.service, biden2);
      expect(found.personId).toBe(ids.Biden);
      expect(found.similarity).toBeGreaterThanOrEqual(alt.threshold);

      // The box space is untouched, and the aligned vectors really are another space.
      expect(
        galleryState(gallery.db).embeddings.filter((e) => (e as { version: string }).version === space),
      ).toEqual(boxBefore);
      expect(bytes(gallery.matrix().data).equals(boxMatrix)).toBe(true);
      const box = gallery.matrix();
      for (let r = 0; r < m.rows; r++) {
        expect(m.rowPerson[r]).toBe(box.rowPerson[r]);
        let dot = 0;
        for (let j = 0; j < m.dim; j++)
          dot += (m.data[r * m.dim + j] as number) * (box.data[r * box.dim + j] as number);
        expect(dot).toBeLessThan(0.995);
      }
    } finally {
      s3.detach();
    }
  });

  it('refuses bad input without storing anything', async () => {
    const before = galleryState(gallery.db);
    await expect(service.enroll('unknown', [photo('biden', 'biden2.jpg')])).rejects.toThrow(/reserved/);
    await expect(service.enroll('  ', [photo('biden', 'biden2.jpg')])).rejects.toThrow(/must not be empty/);
    await expect(service.enroll('biden', [photo('biden', 'biden2.jpg')])).rejects.toMatchObject({
      status: 409,
    });
    await expect(service.enroll('Nobody', [Buffer.from('not an image')])).rejects.toBeInstanceOf(ImageError);
    // Several photos: all or nothing, the error names the bad one.
    await expect(
      service.enroll('Twice', [photo('biden', 'biden2.jpg'), readFileSync(samplePhoto(2))]),
    ).rejects.toThrow(/^image 2: \d+ faces found/);
    expect(galleryState(gallery.db)).toEqual(before);
  });

  it('identification racing a gallery change never attributes a face to the wrong person', async () => {
    // Known people and a second photo of each; the first matrix row's person is deleted while the
    // identify's embedding is in flight, so every row after it shifts.
    const m = gallery.matrix();
    const victim = m.rowPerson[0] as number;
    const [name, [d, f]] = Object.entries(queries).find(([n]) => ids[n] !== victim) as [
      string,
      [string, string],
    ];
    const query = photo(d, f);
    const calm = await whoIs(service, query);
    expect(calm.personId).toBe(ids[name]);

    const run = host.run.bind(host);
    host.run = ((...args: Parameters<InferenceHost['run']>) => {
      const p = run(...args); // the worker has the request; now the gallery changes
      if (args[0] === 'embed') {
        host.run = run;
        gallery.delete(victim);
      }
      return p;
    }) as InferenceHost['run'];
    try {
      const raced = await whoIs(service, query);
      expect(raced.personId, JSON.stringify(raced)).toBe(ids[name]);
      expect(raced.label).toBe(name);
      expect(raced.similarity).toBeCloseTo(calm.similarity, 4);
    } finally {
      host.run = run;
    }
  });

  it('a restarted inference worker still matches against the gallery', async () => {
    const present = new Set(gallery.list().map((p) => p.id));
    const [name, [d, f]] = Object.entries(queries).find(([n]) => present.has(ids[n] as number)) as [
      string,
      [string, string],
    ];
    const query = photo(d, f);
    expect((await whoIs(service, query)).personId).toBe(ids[name]);
    const n = restarts.length;
    host.crashWorker(0);
    await waitFor(() => (restarts.length > n ? true : undefined), 10_000, 'the worker restart');
    await waitFor(() => (host.idle > 0 ? true : undefined), 20_000, 'the restarted worker to be ready');
    const after = await whoIs(service, query);
    expect(after.personId, JSON.stringify(after)).toBe(ids[name]);
    expect(after.similarity).toBeGreaterThanOrEqual(threshold);
  });
});
