/**
 * Operator feedback across cluster nodes against a real PostgreSQL: three node replicas (each its
 * own SQLite file, pool and LISTEN connections) in one process, each with its own copy of the
 * same alert under one event id (and its own local alert ids). A "wrong" verdict and an "ignore"
 * given on A change the decisions on C within 2 s (measured) and show on C's copy of the alert; a
 * "correct" photo given on C reaches A; feedback and undos given while PostgreSQL is down are kept
 * and travel once it is back; an undo made on another node than the verdict travels too.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { ClusterGallery } from '../../src/cluster/cluster-gallery.js';
import { connectPostgres } from '../../src/cluster/connect.js';
import { type FeedbackSync, startFeedbackSync } from '../../src/cluster/feedback-follow.js';
import { GallerySync } from '../../src/cluster/gallery-follow.js';
import { migrateGallery, PgGallery } from '../../src/cluster/gallery-pg.js';
import { openFaceStores } from '../../src/app/modules/face-stores.js';
import { ClusterSchema, type VigilConfig } from '../../src/config/schema.js';
import { AlertStore } from '../../src/faces/alerts.js';
import { FeedbackStore } from '../../src/faces/gallery/feedback.js';
import type { PhotoInput } from '../../src/faces/gallery/gallery.js';
import { identify, topRows } from '../../src/faces/match.js';
import { Rng } from '../../src/util/rng.js';
import { until } from '../helpers/mosquitto.js';
import { type PostgresServer, postgresMissing, startPostgres } from '../helpers/postgres.js';
import { skipUnless } from '../helpers/requirements.js';

const SPACE = { model: 'test-space', version: '1', dim: 128 };
const THRESHOLD = 0.6;
const rng = new Rng(16);

const norm = (v: Float32Array) => {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
};
const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * (b[i] as number), 0);
const unit = () => norm(Float32Array.from({ length: SPACE.dim }, () => rng.next() - 0.5));
/** Another photo of the same face. */
const near = (base: Float32Array) => norm(base.map((x) => x + (rng.next() - 0.5) * 0.02));
/** A face exactly `s` similar to `base` (a look-alike, a poster of them). */
function similar(base: Float32Array, s: number): Float32Array {
  const r = unit();
  const k = dot(r, base);
  const ortho = norm(r.map((x, i) => x - k * (base[i] as number)));
  return base.map((x, i) => s * x + Math.sqrt(1 - s * s) * (ortho[i] as number));
}

const photo = (embedding: Float32Array): PhotoInput => ({
  image: Buffer.from('jpeg bytes'),
  thumbnail: Buffer.from('thumb'),
  box: [1, 2, 30, 40],
  landmarks: [[5, 6]],
  embedding,
});

interface Node {
  name: string;
  gallery: ClusterGallery;
  alerts: AlertStore;
  feedback: FeedbackStore;
  sync: GallerySync;
  feedbackSync: FeedbackSync;
  pool: pg.Pool;
}

/** What node `n` makes of a face seen on `camera`: a name, "unknown" or "ignored". */
function who(n: Node, face: Float32Array, camera = 'cam1'): string {
  const m = n.gallery.matrix();
  const { rows, sims } = topRows(face, m, 5);
  const id = identify(rows, sims, m, THRESHOLD, { embedding: face, camera });
  return id.ignored ? 'ignored' : id.label;
}

/** Every node's copy of one cluster alert (each with its own local id). */
function raise(nodes: Node[], eventId: string, personId: number | null, label: string): number[] {
  const fields = { start_time: Date.now() / 1000, camera: 'cam1', sub_label: label, person_id: personId };
  return nodes.map(
    (n) =>
      n.alerts.add({ ...fields, score: 0.7, track_id: 1 }, Buffer.from('jpeg'), undefined, {
        eventId,
        node: 'a',
      }).id,
  );
}

/** Waits until `ok`, returns how long it took since `t0`. */
async function timed(t0: number, ok: () => boolean, what: string): Promise<number> {
  await until(ok, what, 5000);
  return Date.now() - t0;
}

describe.skipIf(skipUnless(postgresMissing(), 'cluster feedback'))('cluster feedback in PostgreSQL', () => {
  let server: PostgresServer | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'vigil-cluster-feedback-'));
  const nodes: Node[] = [];
  let ada: Float32Array;
  let adaId: number;
  afterAll(async () => {
    for (const n of nodes) {
      await n.feedbackSync.stop();
      await n.sync.stop();
      await n.pool.end();
      n.gallery.close();
    }
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function startNode(name: string, url: string): Promise<Node> {
    const cfg = ClusterSchema.parse({
      nats: 'nats://unused:4222',
      postgres: url,
      node: name,
      retry: { initialMs: 100, maxMs: 1000 },
    });
    const log = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
    const pool = await connectPostgres(cfg, log);
    await migrateGallery(pool);
    const gallery = new ClusterGallery(join(dir, `cluster-${name}.db`), SPACE);
    const alerts = new AlertStore(gallery.db);
    const sync = new GallerySync(new PgGallery(pool), gallery, cfg, log);
    await sync.start();
    const feedbackSync = await startFeedbackSync(pool, gallery, cfg, log);
    const node = { name, gallery, alerts, feedback: new FeedbackStore(gallery), sync, feedbackSync, pool };
    nodes.push(node);
    return node;
  }

  it('a verdict and an ignore on A change C within 2 s; a PostgreSQL restart loses nothing; undos travel', async () => {
    server = await startPostgres();
    const url = await server.createDatabase('feedback');
    const [a, b, c] = (await Promise.all(['a', 'b', 'c'].map((n) => startNode(n, url)))) as [
      Node,
      Node,
      Node,
    ];
    ada = unit();
    const bob = unit();
    adaId = a.gallery.addPerson('Ada', [photo(ada)]).id;
    const bobId = a.gallery.addPerson('Bob', [photo(bob)]).id;
    await until(() => who(c, near(bob)) === 'Bob' && who(b, near(bob)) === 'Bob', 'Bob on B and C', 5000);
    // C has an alert of its own first: its copies have other local ids than A's
    c.alerts.add(
      { start_time: 1, camera: 'cam2', sub_label: 'unknown', person_id: null, score: 0, track_id: 9 },
      undefined,
    );

    // "wrong" on A: a look-alike named Ada is not Ada, on C too
    const lookalike = similar(ada, 0.7);
    const [wrongOnA, , wrongOnC] = raise([a, b, c], 'ev-wrong', adaId, 'Ada') as [number, number, number];
    expect(wrongOnC).not.toBe(wrongOnA);
    expect(who(c, near(lookalike))).toBe('Ada');
    let t0 = Date.now();
    const wrong = a.feedback.wrong(wrongOnA, adaId, { ...photo(lookalike), embedding: lookalike });
    const wrongMs = await timed(t0, () => who(c, near(lookalike)) === 'unknown', 'the negative on C');
    expect(who(c, near(ada))).toBe('Ada'); // Ada herself still named
    expect(c.feedback.latestByAlert([wrongOnC]).get(wrongOnC)).toMatchObject({
      id: wrong.id,
      verdict: 'wrong',
    });

    // "ignore on cam1" on A: Bob's poster is no longer alerted as Bob on C's cam1; on cam2 it is
    const poster = similar(bob, 0.7);
    const [posterOnA] = raise([a, b, c], 'ev-poster', bobId, 'Bob') as [number];
    expect(who(c, near(poster))).toBe('Bob');
    t0 = Date.now();
    a.feedback.ignore(posterOnA, 'cam1', { ...photo(poster), embedding: poster });
    const ignoreMs = await timed(t0, () => who(c, near(poster)) === 'ignored', 'the ignored face on C');
    expect(who(c, near(poster), 'cam2')).toBe('Bob');
    expect(who(c, near(bob))).toBe('Bob'); // Bob walking past his poster
    console.log(
      `feedback given on node A, applied on node C after: wrong ${wrongMs} ms, ignore ${ignoreMs} ms`,
    );
    expect(wrongMs).toBeLessThan(2000);
    expect(ignoreMs).toBeLessThan(2000);

    // "correct" on C adds the face to Ada's photos on every node (ids reserved: no collision)
    const adaLater = similar(ada, 0.75);
    const [, , correctOnC] = raise([a, b, c], 'ev-correct', adaId, 'Ada') as [number, number, number];
    const correct = c.feedback.correct(correctOnC, adaId, photo(adaLater));
    expect(correct.photoId).not.toBeNull();
    await until(() => a.gallery.person(adaId).photos === 2, 'the "correct" photo on A', 5000);
    // undone on A (not where it was given): the photo goes on C
    await until(() => a.feedback.list().some((f) => f.id === correct.id), 'the "correct" entry on A', 5000);
    a.feedback.undo(correct.id);
    await until(
      () => c.gallery.person(adaId).photos === 1 && !c.feedback.list().some((f) => f.id === correct.id),
      'the undo of "correct" on C',
      5000,
    );

    await crashAndRecover(server, [a, b, c], nodes, { bob, wrongId: wrong.id, lookalike });
  }, 90_000);

  it("a node started by the app's face stores module replicates its feedback", async () => {
    const url = await (server as PostgresServer).createDatabase('feedback');
    const cfg = ClusterSchema.parse({ nats: 'nats://unused:4222', postgres: url, node: 'd' });
    const log = pino({ level: 'silent' });
    const pool = await connectPostgres(cfg, log);
    const undo: Array<() => unknown> = [];
    const stores = await openFaceStores(
      { dataDir: dir } as VigilConfig,
      SPACE,
      THRESHOLD,
      log,
      { onStop: (fn) => undo.unshift(fn) },
      { config: cfg, pool, nats: undefined as never },
    );
    try {
      const c = nodes[2] as Node;
      const face = unit();
      const before = c.feedback.list().length;
      new FeedbackStore(stores.gallery).ignore(null, null, { ...photo(face), embedding: face });
      await until(() => who(c, near(face)) === 'ignored', 'the ignore from node d on C', 5000);
      expect(c.feedback.list()).toHaveLength(before + 1);
    } finally {
      for (const fn of undo) await fn();
      await pool.end();
    }
  }, 30_000);

  it('feedback given on a replica before feedback was replicated joins the cluster with new ids', async () => {
    const url = await (server as PostgresServer).createDatabase('feedback');
    const cfg = ClusterSchema.parse({ nats: 'nats://unused:4222', postgres: url, node: 'e' });
    const log = pino({ level: 'silent' });
    const pool = await connectPostgres(cfg, log);
    const gallery = new ClusterGallery(join(dir, 'cluster-e.db'), SPACE);
    const sync = new GallerySync(new PgGallery(pool), gallery, cfg, log);
    await sync.start();
    const c = nodes[2] as Node;
    // as before this replication: local ids from 1 (the cluster's sequence gave those out too)
    const older = new FeedbackStore(gallery);
    const tv = unit();
    const negative = similar(ada, 0.7);
    older.ignore(null, 'cam3', { ...photo(tv), embedding: tv });
    older.wrong(null, adaId, { ...photo(negative), embedding: negative });
    const local = older.list().map((f) => f.id);
    expect(local).toEqual([2, 1]);
    const fb = await startFeedbackSync(pool, gallery, cfg, log);
    try {
      await until(
        () => who(c, near(tv), 'cam3') === 'ignored' && who(c, near(negative)) === 'unknown',
        "e's earlier ignore and negative on C",
        5000,
      );
      const ids = (f: FeedbackStore) => f.list().map((e) => [e.id, e.verdict]);
      await until(
        () => JSON.stringify(ids(older)) === JSON.stringify(ids(c.feedback)),
        'the same entries on e and C',
        5000,
      );
      // the cluster's entries kept their ids, e's have new ones
      const cam = (f: FeedbackStore, camera: string) => f.list().find((e) => e.camera === camera)?.id;
      expect(cam(c.feedback, 'cam1')).toBe(cam(older, 'cam1'));
      expect(local).not.toContain(cam(older, 'cam3'));
      expect(older.list().filter((e) => e.verdict === 'wrong')).toHaveLength(1);
      expect(fb.replica.pending().size).toBe(0);
    } finally {
      await fb.stop();
      await sync.stop();
      await pool.end();
      gallery.close();
    }
  }, 30_000);
});

/** PostgreSQL crashes: an ignore everywhere on A and B's undo of A's "wrong" are kept, then travel. */
async function crashAndRecover(
  server: PostgresServer,
  [a, b, c]: [Node, Node, Node],
  nodes: Node[],
  { bob, wrongId, lookalike }: { bob: Float32Array; wrongId: number; lookalike: Float32Array },
): Promise<void> {
  await server.kill();
  const tv = similar(bob, 0.65);
  a.feedback.ignore(null, null, { ...photo(tv), embedding: tv });
  expect(who(a, near(tv), 'cam2')).toBe('ignored');
  b.feedback.undo(wrongId);
  expect(who(b, near(lookalike))).toBe('Ada');
  await new Promise((r) => setTimeout(r, 1500));
  await server.start();
  await until(
    () =>
      who(c, near(tv), 'cam2') === 'ignored' &&
      who(b, near(tv), 'cam2') === 'ignored' &&
      who(c, near(lookalike)) === 'Ada' &&
      who(a, near(lookalike)) === 'Ada',
    'the ignore and the undo on every node after the restart',
    20_000,
  );
  for (const n of nodes) expect(n.feedbackSync.replica.pending().size).toBe(0);
  // the same entries, with the same ids, on every node
  const ids = (n: Node) => n.feedback.list().map((f) => [f.id, f.verdict]);
  expect(ids(b)).toEqual(ids(a));
  expect(ids(c)).toEqual(ids(a));
  expect(ids(a)).toHaveLength(2);
}
