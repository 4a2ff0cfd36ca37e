import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { AlertStore } from '../../src/faces/alerts.js';
import { Gallery, type PhotoInput } from '../../src/faces/gallery/gallery.js';
import { ensureAutoincrement } from '../../src/faces/gallery/migrate.js';
import { UnknownStore } from '../../src/faces/unknowns/store.js';

// Ids that name people, unknown-face clusters and sightings are never handed out twice (a real
// SQLite file each time), and databases made before that are migrated keeping every row.

const DIM = 8;
const space = { model: 'test', version: 'v1', dim: DIM };
const dir = mkdtempSync(join(tmpdir(), 'vigil-ids-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = () => join(dir, `g${n++}.db`);

const unit = (i: number) => {
  const v = new Float32Array(DIM);
  v[i % DIM] = 1;
  return v;
};
const photo = (i: number): PhotoInput => ({
  image: Buffer.from(`image ${i}`),
  thumbnail: Buffer.from(`thumb ${i}`),
  box: [1, 2, 3, 4],
  landmarks: [[1, 1]],
  embedding: unit(i),
});

/** The schema Vigil created before ids were AUTOINCREMENT (copied from the previous gallery.ts). */
const OLD_SCHEMA = `
  CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE COLLATE NOCASE, created_at INTEGER NOT NULL);
  CREATE TABLE photos (id INTEGER PRIMARY KEY, person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    image BLOB NOT NULL, thumbnail BLOB NOT NULL, box TEXT NOT NULL, landmarks TEXT NOT NULL, created_at INTEGER NOT NULL);
  CREATE INDEX photos_person ON photos(person_id);
  CREATE TABLE embeddings (photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE, model TEXT NOT NULL,
    version TEXT NOT NULL, dim INTEGER NOT NULL, vector BLOB NOT NULL, created_at INTEGER NOT NULL,
    PRIMARY KEY (photo_id, model, version));
  CREATE TABLE alerts (id INTEGER PRIMARY KEY, time INTEGER NOT NULL, camera TEXT NOT NULL, label TEXT NOT NULL,
    person_id INTEGER, score REAL NOT NULL, track_id INTEGER NOT NULL, snapshot BLOB);
  CREATE INDEX alerts_time ON alerts(time);
  ALTER TABLE alerts ADD COLUMN enrolled_person_id INTEGER;
  CREATE TABLE unknown_clusters (id INTEGER PRIMARY KEY, model TEXT NOT NULL, version TEXT NOT NULL, dim INTEGER NOT NULL,
    count INTEGER NOT NULL, sum BLOB NOT NULL, first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL);
  CREATE TABLE unknown_sightings (id INTEGER PRIMARY KEY,
    cluster_id INTEGER NOT NULL REFERENCES unknown_clusters(id) ON DELETE CASCADE, model TEXT NOT NULL,
    version TEXT NOT NULL, camera TEXT NOT NULL, track_id INTEGER NOT NULL, time INTEGER NOT NULL,
    embedding BLOB NOT NULL, snapshot BLOB, box TEXT, similarity REAL);
  CREATE INDEX unknown_sightings_cluster ON unknown_sightings(cluster_id);
`;

/** An old database: people 1..3 with a photo each, an alert about person 3, then person 3 deleted. */
function oldDatabase(path: string) {
  const db = new Database(path);
  db.pragma('foreign_keys = ON');
  db.exec(OLD_SCHEMA);
  const vec = (i: number) => Buffer.from(unit(i).buffer);
  for (const [i, name] of ['Ada', 'Bo', 'Cy'].entries()) {
    const id = i + 1;
    db.prepare('INSERT INTO people (id, name, created_at) VALUES (?, ?, ?)').run(id, name, 1000 + i);
    db.prepare(
      "INSERT INTO photos (id, person_id, image, thumbnail, box, landmarks, created_at) VALUES (?, ?, ?, ?, '[1,2,3,4]', '[]', 1)",
    ).run(id, id, Buffer.from(`image ${id}`), Buffer.from(`thumb ${id}`));
    db.prepare("INSERT INTO embeddings VALUES (?, 'test', 'v1', ?, ?, 1)").run(id, DIM, vec(id));
  }
  db.prepare(
    "INSERT INTO alerts (time, camera, label, person_id, score, track_id, enrolled_person_id) VALUES (5, 'cam', 'Cy', 3, 0.9, 7, NULL)",
  ).run();
  db.prepare(
    "INSERT INTO alerts (time, camera, label, person_id, score, track_id, enrolled_person_id) VALUES (6, 'cam', 'unknown', NULL, 0.2, 8, 3)",
  ).run();
  db.prepare('DELETE FROM people WHERE id = 3').run();
  db.prepare(
    "INSERT INTO unknown_clusters (id, model, version, dim, count, sum, first_seen, last_seen) VALUES (1, 'test', 'v1', ?, 1, ?, 1, 1)",
  ).run(DIM, vec(1));
  db.prepare(
    "INSERT INTO unknown_sightings (id, cluster_id, model, version, camera, track_id, time, embedding) VALUES (1, 1, 'test', 'v1', 'cam', 1, 1, ?)",
  ).run(vec(1));
  return db;
}

describe('ids are never reused', () => {
  it('the old schema reuses a deleted person id: the hole this fixes', () => {
    const db = oldDatabase(file());
    const id = Number(
      db.prepare("INSERT INTO people (name, created_at) VALUES ('Dee', 1)").run().lastInsertRowid,
    );
    expect(id).toBe(3); // the deleted person's id, which an old alert still names
    db.close();
  });

  it('a new gallery never hands out a deleted person id again', () => {
    const g = new Gallery(file(), space);
    const a = g.addPerson('Ada', [photo(1)]);
    const b = g.addPerson('Bo', [photo(2)]);
    g.delete(b.id);
    const c = g.addPerson('Cy', [photo(3)]);
    expect(c.id).toBeGreaterThan(b.id);
    g.delete(c.id);
    g.delete(a.id);
    expect(g.addPerson('Dee', [photo(4)]).id).toBeGreaterThan(c.id);
    g.close();
  });

  it('an old database is migrated keeping every row; ids an alert still names are not handed out', () => {
    const path = file();
    oldDatabase(path).close();
    const g = new Gallery(path, space);
    const alerts = new AlertStore(g.db);
    const unknowns = new UnknownStore(g.db, g.space, { threshold: 0.5 });
    expect(g.list().map((p) => [p.id, p.name, p.photos, p.embedded])).toEqual([
      [1, 'Ada', 1, 1],
      [2, 'Bo', 1, 1],
    ]);
    expect(g.thumbnail(2).toString()).toBe('thumb 2');
    const m = g.matrix();
    expect(Array.from(m.rowPerson)).toEqual([1, 2]);
    expect(Array.from(m.data.subarray(DIM, 2 * DIM))).toEqual(Array.from(unit(2)));
    expect(alerts.list().map((a) => [a.sub_label, a.person_id, a.enrolled_person_id])).toEqual([
      ['unknown', null, 3],
      ['Cy', 3, null],
    ]);
    expect(unknowns.stats()).toEqual({ clusters: 1, sightings: 1 });
    // Foreign keys are on again and still cascade after the rebuild.
    expect(g.db.pragma('foreign_keys', { simple: true })).toBe(1);
    const dee = g.addPerson('Dee', [photo(4)]);
    expect(dee.id).toBe(4); // not 3: alerts still name person 3
    g.delete(1);
    expect((g.db.prepare('SELECT COUNT(*) AS n FROM photos').get() as { n: number }).n).toBe(2);
    expect((g.db.prepare('SELECT COUNT(*) AS n FROM embeddings').get() as { n: number }).n).toBe(2);
    const indexes = g.db
      .prepare(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%' ORDER BY name",
      )
      .all()
      .map((r) => (r as { name: string }).name);
    expect(indexes).toEqual(
      expect.arrayContaining(['photos_person', 'alerts_time', 'unknown_sightings_cluster']),
    );
    g.close();
    // Opening again migrates nothing more.
    const again = new Database(path);
    expect(ensureAutoincrement(again, 'people')).toBe(false);
    expect(ensureAutoincrement(again, 'unknown_clusters')).toBe(false);
    again.close();
  });

  it('alerts keep the name they were raised with after a rename and a delete; alert ids are not reused', () => {
    const g = new Gallery(file(), space);
    const alerts = new AlertStore(g.db);
    const ada = g.addPerson('Ada', [photo(1)]);
    const raise = (t: number) =>
      alerts.add(
        { camera: 'cam', sub_label: 'Ada', person_id: ada.id, score: 0.9, track_id: 1, start_time: t },
        undefined,
      );
    const first = raise(Date.now() / 1000);
    g.rename(ada.id, 'Ada Lovelace');
    expect(alerts.get(first.id)?.sub_label).toBe('Ada');
    g.delete(ada.id);
    expect(alerts.get(first.id)).toMatchObject({ sub_label: 'Ada', person_id: ada.id });
    // Retention empties the history; the next alert still gets a new id.
    expect(alerts.purge({ snapshotDays: 0, alertDays: 1 }, Date.now() + 2 * 86_400_000).alerts).toBe(1);
    expect(raise(Date.now() / 1000).id).toBeGreaterThan(first.id);
    g.close();
  });

  it('unknown-face cluster and sighting ids are not reused after a cluster is forgotten', () => {
    const g = new Gallery(file(), space);
    const s = new UnknownStore(g.db, g.space, { threshold: 0.5 });
    const see = (i: number, trackId: number) =>
      s.addSighting({ camera: 'cam', trackId, time: Date.now() + i, embedding: unit(i) });
    see(1, 1);
    const b = see(2, 2);
    s.deleteCluster(b.clusterId);
    const c = see(3, 3);
    expect(c.clusterId).toBeGreaterThan(b.clusterId);
    expect(c.sightingId).toBeGreaterThan(b.sightingId);
    g.close();
  });
});
