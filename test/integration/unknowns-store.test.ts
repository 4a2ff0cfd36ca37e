import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { Gallery, GalleryError } from '../../src/faces/gallery/gallery.js';
import { normalize, Rng } from '../../src/util/rng.js';
import { cohesion, diverseSubset, linkClusters } from '../../src/faces/unknowns/cluster.js';
import { faceSnapshot, UnknownStore } from '../../src/faces/unknowns/store.js';
import { HttpError } from '../../src/server/api.js';
import { createUnknownRoutes } from '../../src/server/api-unknowns.js';

const DIM = 64;
const space = { model: 'test', version: 'box-1.3', dim: DIM };
const dir = mkdtempSync(join(tmpdir(), 'vigil-unknowns-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** People as directions; a sighting is its person's direction plus noise (similarity ~0.75 within). */
function people(n: number, seed: number) {
  const rng = new Rng(seed);
  const centres = Array.from({ length: n }, () =>
    normalize(Float32Array.from({ length: DIM }, () => rng.normal())),
  );
  const face = (p: number) => {
    const c = centres[p] as Float32Array;
    return normalize(Float32Array.from(c, (x) => x + (rng.normal() * 0.6) / Math.sqrt(DIM)));
  };
  return { centres, face };
}

/** Sighting times near now: retention drops anything older than maxAgeMs (30 days by default). */
const T0 = Date.now() - 3600_000;
let files = 0;
function open(opts: Partial<ConstructorParameters<typeof UnknownStore>[2]> = {}) {
  const g = new Gallery(join(dir, `g${files++}.db`), space);
  return { g, s: new UnknownStore(g.db, g.space, { threshold: 0.5, ...opts }) };
}

const jpeg = () =>
  sharp({ create: { width: 32, height: 32, channels: 3, background: { r: 200, g: 120, b: 90 } } })
    .jpeg()
    .toBuffer();

describe('UnknownStore: clustering, retention, naming, search', () => {
  it('average-linkage arithmetic on sums is exact', () => {
    const { face } = people(2, 1);
    const a = [face(0), face(0), face(0)];
    const b = [face(1), face(1)];
    const sum = (vs: Float32Array[]) => {
      const s = new Float64Array(DIM);
      for (const v of vs) for (let i = 0; i < DIM; i++) s[i] = (s[i] as number) + (v[i] as number);
      return s;
    };
    const dot = (x: Float32Array, y: Float32Array) => x.reduce((t, v, i) => t + v * (y[i] as number), 0);
    let cross = 0;
    for (const x of a) for (const y of b) cross += dot(x, y);
    expect(linkClusters({ n: 3, sum: sum(a) }, { n: 2, sum: sum(b) })).toBeCloseTo(cross / 6, 5);
    const within =
      (dot(a[0] as Float32Array, a[1] as Float32Array) +
        dot(a[0] as Float32Array, a[2] as Float32Array) +
        dot(a[1] as Float32Array, a[2] as Float32Array)) /
      3;
    expect(cohesion({ n: 3, sum: sum(a) })).toBeCloseTo(within, 5);
    // the most typical face first, then varied ones
    expect(
      diverseSubset([...a, ...b], 2)
        .map((i) => (i < 3 ? 'a' : 'b'))
        .sort(),
    ).toEqual(['a', 'b']);
  });

  it('sightings of four people (shuffled, several cameras) come out as four pure clusters', () => {
    const { g, s } = open();
    const { face } = people(4, 2);
    const rng = new Rng(3);
    const order = rng.shuffle(Array.from({ length: 40 }, (_, i) => i % 4));
    const truth = new Map<number, number>();
    order.forEach((p, k) => {
      const r = s.addSighting({
        camera: `cam${k % 3}`,
        trackId: 1000 + k,
        time: T0 + k * 1000,
        embedding: face(p),
      });
      truth.set(r.sightingId, p);
    });
    const list = s.list();
    expect(list).toHaveLength(4);
    for (const c of list) {
      const members = s.sightings(c.id).map((x) => truth.get(x.id));
      expect(new Set(members).size, `cluster ${c.id} is pure`).toBe(1);
      expect(c.sightings).toBe(10);
      expect(c.summary).toMatch(/^this unnamed person was seen 10 times on cameras cam\d, cam\d, cam\d$/);
      expect(c.cohesion).toBeGreaterThan(0.5);
    }
    g.close();
  });

  it('a track keeps its cluster; per-track limits decide what is kept', () => {
    let now = 5_000_000;
    const { g, s } = open({ minIntervalMs: 1000, maxPerTrack: 3, now: () => now });
    const { face } = people(2, 4);
    const a = s.addSighting({ camera: 'c', trackId: 7, time: now, embedding: face(0) });
    expect(a.how).toBe('new');
    // a poorer view of the same track (below the join threshold, above the track floor) stays with it
    const weak = normalize(Float32Array.from(face(0), (x, i) => x + (i % 2 ? 0.12 : -0.12)));
    const b = s.addSighting({ camera: 'c', trackId: 7, time: now + 10, embedding: weak });
    expect(b.clusterId).toBe(a.clusterId);
    expect(['track', 'similar']).toContain(b.how);
    // someone else under the same track id (tracker switch) does not join
    const c = s.addSighting({ camera: 'c', trackId: 7, time: now + 20, embedding: face(1) });
    expect(c.clusterId).not.toBe(a.clusterId);
    expect(s.wants('c', 99)).toBe(true);
    s.addSighting({ camera: 'c', trackId: 99, time: now, embedding: face(0) });
    now += 500;
    expect(s.wants('c', 99), 'within minIntervalMs').toBe(false);
    now += 600;
    expect(s.wants('c', 99)).toBe(true);
    g.close();
  });

  it('retention: at most maxSightings (oldest dropped first) and nothing older than maxAgeMs', () => {
    let now = 10_000_000;
    const { g, s } = open({ maxSightings: 5, maxAgeMs: 60_000, now: () => now });
    const { face } = people(2, 5);
    const ids: number[] = [];
    for (let k = 0; k < 8; k++)
      ids.push(s.addSighting({ camera: 'c', trackId: k, time: now + k, embedding: face(k % 2) }).sightingId);
    const kept = (
      g.db.prepare('SELECT id FROM unknown_sightings ORDER BY id').all() as Array<{ id: number }>
    ).map((r) => r.id);
    expect(kept).toEqual(ids.slice(3));
    // the clusters' counts and sums follow their sightings
    for (const c of s.list()) expect(c.sightings).toBe(s.sightings(c.id).length);
    expect(s.list().reduce((t, c) => t + c.sightings, 0)).toBe(5);
    now += 120_000;
    s.addSighting({ camera: 'c', trackId: 100, time: now, embedding: face(0) });
    expect(s.stats().sightings).toBe(1);
    expect(s.list()).toHaveLength(1);
    g.close();
  });

  it('maintain() merges clusters that match under a looser merge threshold', () => {
    const { g, s } = open({ joinThreshold: 0.95 });
    const { face } = people(1, 6);
    for (let k = 0; k < 6; k++) s.addSighting({ camera: 'c', trackId: k, time: T0 + k, embedding: face(0) });
    expect(s.list().length).toBeGreaterThan(1);
    const loose = new UnknownStore(g.db, g.space, { threshold: 0.5 });
    const r = loose.maintain();
    expect(r.merged).toBeGreaterThan(0);
    expect(loose.list()).toHaveLength(1);
    expect(loose.list()[0]?.sightings).toBe(6);
    g.close();
  });

  it('naming enrolls the faces with their embeddings and removes the cluster; search finds past sightings', async () => {
    const { g, s } = open();
    const { face } = people(3, 7);
    const snap = await jpeg();
    for (let k = 0; k < 12; k++)
      s.addSighting({
        camera: `cam${k % 2}`,
        trackId: k,
        time: T0 + k,
        embedding: face(k % 3),
        snapshot: snap,
        box: [4, 4, 28, 28],
      });
    const target = s.list().find((c) => s.sightings(c.id).some((x) => x.trackId === 0));
    expect(target).toBeDefined();
    const id = (target as { id: number }).id;
    const before = s.stats();
    const r = s.name(id, 'Ada', g, { maxPhotos: 3 });
    expect(r.photos).toBe(3);
    expect(r.sightings).toBe(4);
    expect(r.person.name).toBe('Ada');
    expect(g.matrix().rows).toBe(3);
    expect(() => s.cluster(id)).toThrow(GalleryError);
    expect(s.stats().sightings).toBe(before.sightings - 4);
    // another cluster under a taken name: 409 unless append
    const other = s.list()[0]?.id as number;
    expect(() => s.name(other, 'ada', g)).toThrow(/already exists/);
    // retrospective search: Ada's face matches none of the remaining (other people's) sightings ...
    expect(s.searchPerson(r.person.id, g)).toEqual([]);
    // ... but a later sighting of her, stored before she was enrolled elsewhere, is found
    s.addSighting({ camera: 'cam9', trackId: 77, time: T0 + 5000, embedding: face(0), snapshot: snap });
    const hits = s.searchPerson(r.person.id, g);
    expect(hits.map((h) => h.camera)).toEqual(['cam9']);
    expect(hits[0]?.similarity).toBeGreaterThan(0.5);
    // a cluster of another embedding space cannot be enrolled into this gallery
    const g2 = new Gallery(join(dir, 'other-space.db'), { ...space, version: 'aligned-1.2' });
    const s2 = new UnknownStore(g2.db, { ...space }, { threshold: 0.5 });
    const c2 = s2.addSighting({ camera: 'x', trackId: 1, time: T0, embedding: face(1), snapshot: snap });
    expect(() => s2.name(c2.clusterId, 'Bob', g2)).toThrow(/cannot be enrolled/);
    g2.close();
    g.close();
  });

  it('offer(): copies the face region at once, stores a JPEG snapshot and the face box inside it', async () => {
    const { g, s } = open({ minIntervalMs: 10_000 });
    const { face } = people(1, 8);
    const img = { width: 200, height: 100, pixels: new Uint8Array(200 * 100 * 3).fill(128) };
    const p = s.offer({
      camera: 'c',
      trackId: 1,
      time: 1,
      embedding: face(0),
      image: img,
      box: [50, 20, 90, 70],
    });
    img.pixels.fill(0); // the frame is reused right away
    const r = await p;
    expect(r).toBeDefined();
    const jpg = s.sightingSnapshot(r?.sightingId as number);
    const { data } = await sharp(jpg).raw().toBuffer({ resolveWithObject: true });
    expect(data[0]).toBeGreaterThan(100); // grey 128, not the black the frame became
    expect(
      await s.offer({
        camera: 'c',
        trackId: 1,
        time: 2,
        embedding: face(0),
        image: img,
        box: [50, 20, 90, 70],
      }),
    ).toBeUndefined();
    const snap = await faceSnapshot(img, [50, 20, 90, 70]);
    const meta = await sharp(snap.jpeg).metadata();
    // the crop is the box plus 25% each side: the box sits at 1/6 .. 5/6 of the snapshot
    expect(snap.box[0] / (meta.width as number)).toBeCloseTo(1 / 6, 1);
    expect(snap.box[2] / (meta.width as number)).toBeCloseTo(5 / 6, 1);
    g.close();
  });

  it('another process (connection) adding sightings is seen by the next clustering', () => {
    const file = join(dir, 'shared.db');
    const g1 = new Gallery(file, space);
    const g2 = new Gallery(file, space);
    const s1 = new UnknownStore(g1.db, space, { threshold: 0.5 });
    const s2 = new UnknownStore(g2.db, space, { threshold: 0.5 });
    const { face } = people(1, 9);
    const a = s1.addSighting({ camera: 'c', trackId: 1, time: T0 + 1, embedding: face(0) });
    const b = s2.addSighting({ camera: 'c', trackId: 2, time: T0 + 2, embedding: face(0) });
    expect(b.clusterId).toBe(a.clusterId);
    const c = s1.addSighting({ camera: 'c', trackId: 3, time: T0 + 3, embedding: face(0) });
    expect(c.clusterId).toBe(a.clusterId);
    expect(s1.list()[0]?.sightings).toBe(3);
    g1.close();
    g2.close();
  });

  it('API routes: list, name, delete, snapshots, person sightings, with 4xx on bad input', async () => {
    const { g, s } = open();
    const { face } = people(2, 10);
    const snap = await jpeg();
    for (let k = 0; k < 6; k++)
      s.addSighting({ camera: 'door', trackId: k, time: T0 + k, embedding: face(k % 2), snapshot: snap });
    const routes = createUnknownRoutes({ faces: () => ({ unknowns: s, gallery: g }) });
    const call = async (method: string, path: string) => {
      const url = new URL(path, 'http://x');
      const r = routes.find(([m, re]) => m === method && re.test(url.pathname));
      if (!r) throw new Error(`no route ${method} ${path}`);
      const req = { resume: () => {}, url: path } as unknown as IncomingMessage;
      try {
        return await r[2](req, r[1].exec(url.pathname) as RegExpExecArray, url);
      } catch (e) {
        if (e instanceof HttpError || e instanceof GalleryError)
          return { status: e.status, json: { error: e.message } };
        throw e;
      }
    };
    const list = await call('GET', '/api/unknowns');
    expect(list.status).toBe(200);
    const clusters = list.json as Array<{ id: number; sightings: number; snapshotUrl: string }>;
    expect(clusters).toHaveLength(2);
    const first = clusters[0] as { id: number; snapshotUrl: string };
    const jpg = await call('GET', first.snapshotUrl);
    expect(jpg.type).toBe('image/jpeg');
    expect(jpg.body?.length).toBeGreaterThan(100);
    expect((await call('GET', '/api/unknowns?min=abc')).status).toBe(400);
    expect((await call('POST', `/api/unknowns/${first.id}/name`)).status).toBe(400);
    expect((await call('POST', `/api/unknowns/${first.id}/name?name=%20`)).status).toBe(400);
    expect((await call('POST', '/api/unknowns/999/name?name=Zed')).status).toBe(404);
    const named = await call('POST', `/api/unknowns/${first.id}/name?name=Zed`);
    expect(named.status).toBe(201);
    const person = named.json as { id: number; name: string; enrolledPhotos: number };
    expect(person.name).toBe('Zed');
    expect(person.enrolledPhotos).toBe(3);
    expect((await call('GET', `/api/unknowns/${first.id}`)).status).toBe(404);
    const sightings = await call('GET', `/api/people/${person.id}/sightings`);
    expect(sightings.status).toBe(200);
    expect(sightings.json).toEqual([]);
    expect((await call('GET', '/api/people/999/sightings')).status).toBe(404);
    const rest = (await call('GET', '/api/unknowns')).json as Array<{ id: number }>;
    expect((await call('DELETE', `/api/unknowns/${rest[0]?.id}`)).status).toBe(204);
    expect((await call('GET', '/api/unknowns')).json).toEqual([]);
    g.close();
  });
});
