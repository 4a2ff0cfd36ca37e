import type Database from 'better-sqlite3';
import { type EmbeddingSpace, GalleryError } from '../gallery/gallery.js';
import { ensureAutoincrement } from '../gallery/migrate.js';
import { cohesion, type StoredClusterSum } from './cluster.js';
import type { Sighting, SightingInput, UnknownCluster } from './types.js';

/** A row of unknown_clusters as listed and described. */
export interface ClusterRow {
  id: number;
  count: number;
  first_seen: number;
  last_seen: number;
  sum: Buffer;
}

/** A row of unknown_clusters with the embedding space it belongs to. */
export interface ClusterRowWithSpace extends ClusterRow {
  model: string;
  version: string;
  dim: number;
}

/** A stored sighting that can become a gallery photo: its embedding, JPEG and face box. */
export interface EnrollableSighting {
  id: number;
  embedding: Buffer;
  snapshot: Buffer;
  box: string | null;
}

/** A stored sighting with its embedding, for retrospective search. */
export interface SightingWithEmbedding {
  id: number;
  clusterId: number;
  camera: string;
  trackId: number;
  time: number;
  embedding: Buffer;
  has: number;
}

export const f32 = (b: Buffer) => new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
export const blob = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

export const sightingSnapshotUrl = (id: number) => `/api/unknowns/sightings/${id}/snapshot.jpg`;

/** Creates the two tables and their indexes when missing; older databases get AUTOINCREMENT ids. */
function createTables(db: Database.Database): void {
  db.exec(`
      CREATE TABLE IF NOT EXISTS unknown_clusters (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        model TEXT NOT NULL,
        version TEXT NOT NULL,
        dim INTEGER NOT NULL,
        count INTEGER NOT NULL,
        sum BLOB NOT NULL,
        first_seen INTEGER NOT NULL,
        last_seen INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS unknown_clusters_space ON unknown_clusters(model, version);
      CREATE TABLE IF NOT EXISTS unknown_sightings (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        cluster_id INTEGER NOT NULL REFERENCES unknown_clusters(id) ON DELETE CASCADE,
        model TEXT NOT NULL,
        version TEXT NOT NULL,
        camera TEXT NOT NULL,
        track_id INTEGER NOT NULL,
        time INTEGER NOT NULL,
        embedding BLOB NOT NULL,
        snapshot BLOB,
        box TEXT,
        similarity REAL
      );
      CREATE INDEX IF NOT EXISTS unknown_sightings_time ON unknown_sightings(time);
      CREATE INDEX IF NOT EXISTS unknown_sightings_cluster ON unknown_sightings(cluster_id);
      CREATE INDEX IF NOT EXISTS unknown_sightings_track ON unknown_sightings(camera, track_id, time);
    `);
  // Older databases: cluster and sighting ids in URLs a page holds must never name another face.
  ensureAutoincrement(db, 'unknown_clusters');
  ensureAutoincrement(db, 'unknown_sightings');
}

/**
 * The SQL of the unknown-face store: tables unknown_clusters (count and sum of the members'
 * embeddings) and unknown_sightings in the gallery's database, and rows to objects. Queries that
 * list or cluster are limited to `space`; retention and the sighting count span all spaces.
 */
export class UnknownRepository {
  constructor(
    readonly db: Database.Database,
    readonly space: EmbeddingSpace,
  ) {
    createTables(db);
  }

  /** SQLite's data_version: changes when another connection committed. */
  dataVersion(): number {
    return this.db.pragma('data_version', { simple: true }) as number;
  }

  // --- clusters ---

  clusterSums(): StoredClusterSum[] {
    const { model, version, dim } = this.space;
    const rows = this.db
      .prepare('SELECT id, count, sum FROM unknown_clusters WHERE model = ? AND version = ? AND dim = ?')
      .all(model, version, dim) as Array<{ id: number; count: number; sum: Buffer }>;
    return rows.map((r) => ({ id: r.id, n: r.count, sum: Float64Array.from(f32(r.sum)) }));
  }

  /** The `limit` clusters seen last (newest first), with their sums. */
  recentClusterSums(limit: number): StoredClusterSum[] {
    const { model, version, dim } = this.space;
    const rows = this.db
      .prepare(
        'SELECT id, count, sum FROM unknown_clusters WHERE model = ? AND version = ? AND dim = ? ORDER BY last_seen DESC, id DESC LIMIT ?',
      )
      .all(model, version, dim, limit) as Array<{ id: number; count: number; sum: Buffer }>;
    return rows.map((r) => ({ id: r.id, n: r.count, sum: Float64Array.from(f32(r.sum)) }));
  }

  /** The cluster of the track's latest sighting at or after `since` (same camera and track id). */
  recentTrackCluster(camera: string, trackId: number, since: number): number | undefined {
    const recent = this.db
      .prepare(
        `SELECT cluster_id AS clusterId FROM unknown_sightings
           WHERE camera = ? AND track_id = ? AND time >= ? AND model = ? AND version = ?
           ORDER BY time DESC LIMIT 1`,
      )
      .get(camera, trackId, since, this.space.model, this.space.version) as { clusterId: number } | undefined;
    return recent?.clusterId;
  }

  /** Stores a cluster's new count and sum after a member joined at `time` (widening its span). */
  saveJoined(c: StoredClusterSum, time: number): void {
    this.db
      .prepare(
        'UPDATE unknown_clusters SET count = ?, sum = ?, first_seen = MIN(first_seen, ?), last_seen = MAX(last_seen, ?) WHERE id = ?',
      )
      .run(c.n, blob(Float32Array.from(c.sum)), time, time, c.id);
  }

  /** A new cluster of one member; returns its id. */
  insertCluster(x: Float32Array, time: number): number {
    const { model, version, dim } = this.space;
    return Number(
      this.db
        .prepare(
          'INSERT INTO unknown_clusters (model, version, dim, count, sum, first_seen, last_seen) VALUES (?, ?, ?, 1, ?, ?, ?)',
        )
        .run(model, version, dim, blob(x), time, time).lastInsertRowid,
    );
  }

  saveCluster(id: number, n: number, sum: Float64Array, firstSeen: number, lastSeen: number): void {
    this.db
      .prepare('UPDATE unknown_clusters SET count = ?, sum = ?, first_seen = ?, last_seen = ? WHERE id = ?')
      .run(n, blob(Float32Array.from(sum)), firstSeen, lastSeen, id);
  }

  /** The span (first and last seen) of two clusters together. */
  jointSpan(a: number, b: number): { f: number; l: number } {
    return this.db
      .prepare('SELECT MIN(first_seen) AS f, MAX(last_seen) AS l FROM unknown_clusters WHERE id IN (?, ?)')
      .get(a, b) as { f: number; l: number };
  }

  /** Deletes a cluster row (its sightings go with it: ON DELETE CASCADE). */
  deleteCluster(id: number): void {
    this.db.prepare('DELETE FROM unknown_clusters WHERE id = ?').run(id);
  }

  /** The cluster's row; a bad id is a 400, a missing cluster a 404. */
  requireCluster(id: number): ClusterRowWithSpace {
    if (!Number.isSafeInteger(id) || id <= 0) throw new GalleryError(`invalid cluster id "${id}"`, 400);
    const r = this.db
      .prepare(
        'SELECT id, model, version, dim, count, first_seen, last_seen, sum FROM unknown_clusters WHERE id = ?',
      )
      .get(id) as ClusterRowWithSpace | undefined;
    if (!r) throw new GalleryError(`no unknown-face cluster with id ${id}`, 404);
    return r;
  }

  /** Clusters of this space with at least `minSightings`, most recently seen first. */
  clusterRows(opts: { minSightings?: number; limit?: number; camera?: string }): ClusterRow[] {
    return this.db
      .prepare(
        `SELECT id, count, first_seen, last_seen, sum FROM unknown_clusters
         WHERE model = ? AND version = ? AND count >= ?
         ${opts.camera ? 'AND id IN (SELECT cluster_id FROM unknown_sightings WHERE camera = ?)' : ''}
         ORDER BY last_seen DESC, id DESC LIMIT ?`,
      )
      .all(
        ...([this.space.model, this.space.version, opts.minSightings ?? 1] as unknown[]),
        ...(opts.camera ? [opts.camera] : []),
        Math.min(Math.max(1, opts.limit ?? 100), 1000),
      ) as ClusterRow[];
  }

  /** A cluster row as the API shows it: counts per camera, tracks, cohesion and a summary line. */
  describe(r: ClusterRow): UnknownCluster {
    const cams = this.db
      .prepare(
        'SELECT camera, COUNT(*) AS n FROM unknown_sightings WHERE cluster_id = ? GROUP BY camera ORDER BY n DESC, camera',
      )
      .all(r.id) as Array<{ camera: string; n: number }>;
    const tracks = (
      this.db
        .prepare(
          'SELECT COUNT(DISTINCT camera || char(0) || track_id) AS n FROM unknown_sightings WHERE cluster_id = ?',
        )
        .get(r.id) as { n: number }
    ).n;
    const names = cams.map((c) => c.camera);
    return {
      id: r.id,
      sightings: r.count,
      tracks,
      cameras: cams.map((c) => ({ camera: c.camera, sightings: c.n })),
      firstSeen: r.first_seen,
      lastSeen: r.last_seen,
      cohesion: cohesion({ n: r.count, sum: Float64Array.from(f32(r.sum)) }),
      summary: `this unnamed person was seen ${r.count} time${r.count === 1 ? '' : 's'} on camera${names.length === 1 ? '' : 's'} ${names.join(', ')}`,
      snapshotUrl: `/api/unknowns/${r.id}/snapshot.jpg`,
    };
  }

  /** Clusters of this space. */
  clusterCount(): number {
    return (
      this.db
        .prepare('SELECT COUNT(*) AS n FROM unknown_clusters WHERE model = ? AND version = ?')
        .get(this.space.model, this.space.version) as { n: number }
    ).n;
  }

  // --- sightings ---

  /** Stores a sighting (embedding `x`, already normalised) in a cluster; returns its id. */
  insertSighting(clusterId: number, s: SightingInput, x: Float32Array): number {
    return Number(
      this.db
        .prepare(
          `INSERT INTO unknown_sightings (cluster_id, model, version, camera, track_id, time, embedding, snapshot, box, similarity)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          clusterId,
          this.space.model,
          this.space.version,
          s.camera,
          s.trackId,
          Math.round(s.time),
          blob(x),
          s.snapshot ?? null,
          s.box ? JSON.stringify(s.box) : null,
          s.similarity ?? null,
        ).lastInsertRowid,
    );
  }

  moveSightings(fromCluster: number, toCluster: number): void {
    this.db
      .prepare('UPDATE unknown_sightings SET cluster_id = ? WHERE cluster_id = ?')
      .run(toCluster, fromCluster);
  }

  /** The embeddings and times of a cluster's sightings. */
  members(clusterId: number): Array<{ embedding: Float32Array; time: number }> {
    const rows = this.db
      .prepare('SELECT embedding, time FROM unknown_sightings WHERE cluster_id = ?')
      .all(clusterId) as Array<{ embedding: Buffer; time: number }>;
    return rows.map((r) => ({ embedding: f32(r.embedding), time: r.time }));
  }

  /** Sightings of every space. */
  sightingCount(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM unknown_sightings').get() as { n: number }).n;
  }

  /** Sightings older than `cutoff`, and the `oldest` oldest ones (every space). */
  expiredSightings(cutoff: number, oldest: number): Array<{ id: number; clusterId: number }> {
    return this.db
      .prepare(
        `SELECT id, cluster_id AS clusterId FROM unknown_sightings WHERE time < ?
         UNION SELECT id, cluster_id AS clusterId FROM (SELECT id, cluster_id FROM unknown_sightings ORDER BY time, id LIMIT ?)`,
      )
      .all(cutoff, oldest) as Array<{ id: number; clusterId: number }>;
  }

  deleteSightings(ids: number[]): void {
    const del = this.db.prepare('DELETE FROM unknown_sightings WHERE id = ?');
    for (const id of ids) del.run(id);
  }

  /** A cluster's sightings, newest first. */
  sightings(clusterId: number, limit: number): Sighting[] {
    return (
      this.db
        .prepare(
          `SELECT id, cluster_id AS clusterId, camera, track_id AS trackId, time, similarity, snapshot IS NOT NULL AS has
           FROM unknown_sightings WHERE cluster_id = ? ORDER BY time DESC, id DESC LIMIT ?`,
        )
        .all(clusterId, limit) as Array<Omit<Sighting, 'hasSnapshot' | 'snapshotUrl'> & { has: number }>
    ).map(({ has, ...s }) => ({
      ...s,
      hasSnapshot: Boolean(has),
      snapshotUrl: sightingSnapshotUrl(s.id),
    }));
  }

  /** The embeddings and JPEGs of a cluster's sightings that have a snapshot. */
  snapshotsOf(clusterId: number): Array<{ embedding: Buffer; snapshot: Buffer }> {
    return this.db
      .prepare(
        'SELECT embedding, snapshot FROM unknown_sightings WHERE cluster_id = ? AND snapshot IS NOT NULL',
      )
      .all(clusterId) as Array<{ embedding: Buffer; snapshot: Buffer }>;
  }

  /** One sighting's JPEG: undefined when there is no such sighting, null when it has none. */
  sightingSnapshot(sightingId: number): Buffer | null | undefined {
    const r = this.db.prepare('SELECT snapshot FROM unknown_sightings WHERE id = ?').get(sightingId) as
      | { snapshot: Buffer | null }
      | undefined;
    return r?.snapshot;
  }

  /** A cluster's sightings with a snapshot, oldest first: the faces naming it can enroll. */
  enrollable(clusterId: number): EnrollableSighting[] {
    return this.db
      .prepare(
        'SELECT id, embedding, snapshot, box FROM unknown_sightings WHERE cluster_id = ? AND snapshot IS NOT NULL ORDER BY time',
      )
      .all(clusterId) as EnrollableSighting[];
  }

  /** Every sighting of this space with its embedding, newest first (streamed). */
  sightingsWithEmbeddings(): IterableIterator<SightingWithEmbedding> {
    return this.db
      .prepare(
        `SELECT id, cluster_id AS clusterId, camera, track_id AS trackId, time, embedding, snapshot IS NOT NULL AS has
         FROM unknown_sightings WHERE model = ? AND version = ? ORDER BY time DESC, id DESC`,
      )
      .iterate(this.space.model, this.space.version) as IterableIterator<SightingWithEmbedding>;
  }
}
