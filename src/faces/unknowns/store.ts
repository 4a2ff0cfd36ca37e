import type Database from 'better-sqlite3';
import sharp from 'sharp';
import {
  type EmbeddingSpace,
  type Gallery,
  GalleryError,
  type Person,
  type PhotoInput,
} from '../gallery/gallery.js';
import { personName } from '../person-name.js';
import { ensureAutoincrement } from '../gallery/migrate.js';
import { cropJpeg, cropRect } from '../../util/image.js';
import type { RgbImage } from '../../util/rgb.js';
import {
  type ClusterSum,
  bestCluster,
  cohesion,
  diverseSubset,
  dotF,
  linkClusters,
  linkToCluster,
} from './cluster.js';

export interface UnknownStoreOptions {
  /** The space's calibrated decision threshold (cosine similarity, models/thresholds.yaml). */
  threshold: number;
  /** A sighting joins the cluster it matches on average at least this well. Default: `threshold`. */
  joinThreshold?: number;
  /** Two clusters whose members match on average at least this well merge. Default: `joinThreshold`. */
  mergeThreshold?: number;
  /** Most sightings kept (oldest dropped first). Default 5000. */
  maxSightings?: number;
  /** Sightings older than this are dropped. Default 30 days. */
  maxAgeMs?: number;
  /** At most one sighting per track this often (ms). Default 2000. */
  minIntervalMs?: number;
  /** At most this many sightings per track. Default 10. */
  maxPerTrack?: number;
  /**
   * A sighting of a track seen within this long (same camera and track id) joins that track's
   * cluster even below the join threshold (down to `trackLinkMinSimilarity`): the tracker says it is
   * the same face. Default 60 s.
   */
  trackLinkMs?: number;
  /** Floor for track links (guards against tracker id switches). Default joinThreshold - 0.2. */
  trackLinkMinSimilarity?: number;
  /** Edge of the JPEG snapshot kept per sighting (px). Default 192. */
  snapshotSize?: number;
  now?: () => number;
  log?: (msg: string) => void;
}

export interface SightingInput {
  camera: string;
  trackId: number;
  /** Epoch milliseconds. */
  time: number;
  /** L2-normalised embedding in the store's space. */
  embedding: Float32Array;
  /** A JPEG of the face (see faceSnapshot) and the face's box inside it. */
  snapshot?: Buffer;
  box?: [number, number, number, number];
  /** Similarity to the nearest enrolled person (for operators). */
  similarity?: number;
}

export interface Sighting {
  id: number;
  clusterId: number;
  camera: string;
  trackId: number;
  time: number;
  similarity: number | null;
  hasSnapshot: boolean;
  snapshotUrl: string;
}

export interface UnknownCluster {
  id: number;
  sightings: number;
  tracks: number;
  cameras: Array<{ camera: string; sightings: number }>;
  firstSeen: number;
  lastSeen: number;
  /** Mean pairwise similarity of the cluster's faces. */
  cohesion: number;
  /** "This unnamed person was seen N times on cameras X, Y". */
  summary: string;
  snapshotUrl: string;
}

interface CachedCluster extends ClusterSum {
  id: number;
}

const f32 = (b: Buffer) => new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
const blob = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/**
 * A JPEG of a face for storage (the box plus 25% margin; alert snapshots keep more room, see
 * faces/snapshot.ts) and the face's box inside that JPEG (so the gallery can later re-embed it with
 * another model).
 */
export async function faceSnapshot(
  img: RgbImage,
  box: [number, number, number, number],
  size = 192,
): Promise<{ jpeg: Buffer; box: [number, number, number, number] }> {
  const margin = 0.25;
  const { left, top, width, height } = cropRect(img, box, margin);
  const jpeg = await cropJpeg(img, box, { margin, size, quality: 90 });
  const meta = await sharp(jpeg).metadata();
  const sx = (meta.width ?? 1) / width;
  const sy = (meta.height ?? 1) / height;
  return {
    jpeg,
    box: [(box[0] - left) * sx, (box[1] - top) * sy, (box[2] - left) * sx, (box[3] - top) * sy],
  };
}

/** Copies the region of a frame a snapshot needs (so the frame can be released at once). */
function copyRegion(img: RgbImage, box: [number, number, number, number]) {
  const w = box[2] - box[0];
  const h = box[3] - box[1];
  const left = Math.max(0, Math.floor(box[0] - w * 0.25));
  const top = Math.max(0, Math.floor(box[1] - h * 0.25));
  const right = Math.min(img.width, Math.ceil(box[2] + w * 0.25));
  const bottom = Math.min(img.height, Math.ceil(box[3] + h * 0.25));
  const cw = Math.max(1, right - left);
  const ch = Math.max(1, bottom - top);
  const pixels = new Uint8Array(cw * ch * 3);
  for (let y = 0; y < ch; y++) {
    const src = ((top + y) * img.width + left) * 3;
    pixels.set(img.pixels.subarray(src, src + cw * 3), y * cw * 3);
  }
  return {
    image: { width: cw, height: ch, pixels },
    box: [box[0] - left, box[1] - top, box[2] - left, box[3] - top] as [number, number, number, number],
  };
}

/**
 * Faces nobody enrolled, seen on the cameras: kept (embedding, JPEG snapshot, camera, time, track)
 * in the gallery's SQLite database, bounded (max rows, max age: oldest dropped first), and clustered
 * online by average linkage: a sighting joins the cluster whose faces it matches on average at or
 * above the join threshold, else starts a new one; after every join the grown cluster merges with any
 * cluster it now matches on average at or above the merge threshold (`maintain()` re-checks all
 * pairs). Naming a cluster enrolls its faces as a person with their stored embeddings.
 * Only sightings of the store's embedding space are clustered, listed or enrolled.
 */
export class UnknownStore {
  readonly join: number;
  readonly merge: number;
  private readonly o: Required<Omit<UnknownStoreOptions, 'joinThreshold' | 'mergeThreshold' | 'log'>> &
    Pick<UnknownStoreOptions, 'log'>;
  private cache: Map<number, CachedCluster> | undefined;
  private dataVersion = -1;
  private tracks = new Map<string, { n: number; last: number }>();

  constructor(
    readonly db: Database.Database,
    readonly space: EmbeddingSpace,
    opts: UnknownStoreOptions,
  ) {
    this.join = opts.joinThreshold ?? opts.threshold;
    this.merge = opts.mergeThreshold ?? this.join;
    this.o = {
      threshold: opts.threshold,
      maxSightings: opts.maxSightings ?? 5000,
      maxAgeMs: opts.maxAgeMs ?? 30 * 24 * 3600_000,
      minIntervalMs: opts.minIntervalMs ?? 2000,
      maxPerTrack: opts.maxPerTrack ?? 10,
      trackLinkMs: opts.trackLinkMs ?? 60_000,
      trackLinkMinSimilarity: opts.trackLinkMinSimilarity ?? this.join - 0.2,
      snapshotSize: opts.snapshotSize ?? 192,
      now: opts.now ?? Date.now,
      log: opts.log,
    };
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

  /** The clusters of this space, reloaded when another connection (a CLI) changed the database. */
  private clusters(): Map<number, CachedCluster> {
    const v = this.db.pragma('data_version', { simple: true }) as number;
    if (this.cache && v === this.dataVersion) return this.cache;
    this.dataVersion = v;
    const rows = this.db
      .prepare('SELECT id, count, sum FROM unknown_clusters WHERE model = ? AND version = ? AND dim = ?')
      .all(this.space.model, this.space.version, this.space.dim) as Array<{
      id: number;
      count: number;
      sum: Buffer;
    }>;
    this.cache = new Map(
      rows.map((r) => [r.id, { id: r.id, n: r.count, sum: Float64Array.from(f32(r.sum)) }]),
    );
    return this.cache;
  }

  /** Should a sighting of this track be kept now? (per-track rate and count limits) */
  wants(camera: string, trackId: number, now = this.o.now()): boolean {
    const t = this.tracks.get(`${camera}\u0000${trackId}`);
    return !t || (t.n < this.o.maxPerTrack && now - t.last >= this.o.minIntervalMs);
  }

  /**
   * The recognizer's hook: when the track wants a sighting, copies the face's region of the frame at
   * once (the frame may be released when this returns), then encodes the snapshot and stores the
   * sighting. Never rejects: failures are logged.
   */
  offer(s: {
    camera: string;
    trackId: number;
    time: number;
    embedding: Float32Array;
    image: RgbImage;
    box: [number, number, number, number];
    similarity?: number;
  }): Promise<ReturnType<UnknownStore['addSighting']> | undefined> {
    if (!this.wants(s.camera, s.trackId)) return Promise.resolve(undefined);
    this.note(s.camera, s.trackId, this.o.now());
    const region = copyRegion(s.image, s.box);
    const embedding = Float32Array.from(s.embedding);
    return faceSnapshot(region.image, region.box, this.o.snapshotSize)
      .then((snap) =>
        this.addSighting({
          camera: s.camera,
          trackId: s.trackId,
          time: s.time,
          embedding,
          snapshot: snap.jpeg,
          box: snap.box,
          similarity: s.similarity,
        }),
      )
      .catch((e: Error) => {
        this.o.log?.(`unknown face not stored: ${e.message}`);
        return undefined;
      });
  }

  private note(camera: string, trackId: number, now: number): void {
    const k = `${camera}\u0000${trackId}`;
    const t = this.tracks.get(k) ?? { n: 0, last: Number.NEGATIVE_INFINITY };
    t.n++;
    t.last = now;
    this.tracks.set(k, t);
    if (this.tracks.size > 10_000)
      for (const [key, v] of this.tracks) if (now - v.last > this.o.trackLinkMs) this.tracks.delete(key);
  }

  /**
   * Stores a sighting and clusters it: joins the track's recent cluster (same camera and track id,
   * similar enough), else the best-matching cluster at or above the join threshold, else a new one.
   */
  addSighting(s: SightingInput): {
    sightingId: number;
    clusterId: number;
    how: 'track' | 'similar' | 'new';
    similarity: number;
    merged: number[];
  } {
    if (s.embedding.length !== this.space.dim)
      throw new GalleryError(
        `sighting embedding has ${s.embedding.length} values, the ${this.space.model} space has ${this.space.dim}`,
        500,
      );
    const x = Float32Array.from(s.embedding);
    let norm = 0;
    for (let i = 0; i < x.length; i++) norm += (x[i] as number) ** 2;
    const inv = 1 / Math.max(Math.sqrt(norm), 1e-12);
    for (let i = 0; i < x.length; i++) x[i] = (x[i] as number) * inv;
    if (!this.tracks.has(`${s.camera}\u0000${s.trackId}`)) this.note(s.camera, s.trackId, this.o.now());

    const run = this.db.transaction(() => {
      this.prune(1); // room for this one
      const clusters = this.clusters();
      let how: 'track' | 'similar' | 'new' = 'new';
      let target: CachedCluster | undefined;
      let similarity = Number.NaN;
      const recent = this.db
        .prepare(
          `SELECT cluster_id AS clusterId FROM unknown_sightings
           WHERE camera = ? AND track_id = ? AND time >= ? AND model = ? AND version = ?
           ORDER BY time DESC LIMIT 1`,
        )
        .get(s.camera, s.trackId, s.time - this.o.trackLinkMs, this.space.model, this.space.version) as
        | { clusterId: number }
        | undefined;
      const tc = recent ? clusters.get(recent.clusterId) : undefined;
      if (tc) {
        const sim = linkToCluster(x, tc);
        if (sim >= this.o.trackLinkMinSimilarity) {
          target = tc;
          how = 'track';
          similarity = sim;
        }
      }
      if (!target) {
        const best = bestCluster(x, clusters, this.join);
        if (best) {
          target = clusters.get(best.key);
          how = 'similar';
          similarity = best.similarity;
        }
      }
      let clusterId: number;
      if (target) {
        for (let i = 0; i < x.length; i++) target.sum[i] = (target.sum[i] as number) + (x[i] as number);
        target.n++;
        clusterId = target.id;
        this.db
          .prepare(
            'UPDATE unknown_clusters SET count = ?, sum = ?, first_seen = MIN(first_seen, ?), last_seen = MAX(last_seen, ?) WHERE id = ?',
          )
          .run(target.n, blob(Float32Array.from(target.sum)), s.time, s.time, clusterId);
      } else {
        clusterId = Number(
          this.db
            .prepare(
              'INSERT INTO unknown_clusters (model, version, dim, count, sum, first_seen, last_seen) VALUES (?, ?, ?, 1, ?, ?, ?)',
            )
            .run(this.space.model, this.space.version, this.space.dim, blob(x), s.time, s.time)
            .lastInsertRowid,
        );
        clusters.set(clusterId, { id: clusterId, n: 1, sum: Float64Array.from(x) });
      }
      const sightingId = Number(
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
      const m = target ? this.mergeInto(clusterId) : { id: clusterId, gone: [] };
      return { sightingId, clusterId: m.id, how, similarity, merged: m.gone };
    });
    let r: ReturnType<typeof run>;
    try {
      r = run.immediate();
    } catch (e) {
      this.cache = undefined; // the in-memory sums may hold the rolled-back change
      throw e;
    }
    this.dataVersion = this.db.pragma('data_version', { simple: true }) as number;
    return r;
  }

  /**
   * Merges every cluster that `id` now matches (average linkage >= merge threshold) into one, keeping
   * the oldest (smallest) id; repeats until nothing more merges. Returns the surviving id and the ids
   * merged away.
   */
  private mergeInto(id: number): { id: number; gone: number[] } {
    const clusters = this.clusters();
    const gone: number[] = [];
    let cur = clusters.get(id);
    while (cur) {
      let best: CachedCluster | undefined;
      let bestS = this.merge;
      for (const c of clusters.values()) {
        if (c.id === cur.id) continue;
        const s = linkClusters(cur, c);
        if (s >= bestS) {
          bestS = s;
          best = c;
        }
      }
      if (!best) break;
      const [keep, lost] = best.id < cur.id ? [best, cur] : [cur, best];
      this.absorb(keep, lost);
      gone.push(lost.id);
      cur = keep;
    }
    return { id: cur?.id ?? id, gone };
  }

  private absorb(keep: CachedCluster, gone: CachedCluster): void {
    for (let i = 0; i < keep.sum.length; i++) keep.sum[i] = (keep.sum[i] as number) + (gone.sum[i] as number);
    keep.n += gone.n;
    this.db.prepare('UPDATE unknown_sightings SET cluster_id = ? WHERE cluster_id = ?').run(keep.id, gone.id);
    const span = this.db
      .prepare('SELECT MIN(first_seen) AS f, MAX(last_seen) AS l FROM unknown_clusters WHERE id IN (?, ?)')
      .get(keep.id, gone.id) as { f: number; l: number };
    this.db
      .prepare('UPDATE unknown_clusters SET count = ?, sum = ?, first_seen = ?, last_seen = ? WHERE id = ?')
      .run(keep.n, blob(Float32Array.from(keep.sum)), span.f, span.l, keep.id);
    this.db.prepare('DELETE FROM unknown_clusters WHERE id = ?').run(gone.id);
    this.clusters().delete(gone.id);
  }

  /** Recomputes a cluster's sum and span from its sightings (after deletions); drops it when empty. */
  private recompute(id: number): void {
    const rows = this.db
      .prepare('SELECT embedding, time FROM unknown_sightings WHERE cluster_id = ?')
      .all(id) as Array<{ embedding: Buffer; time: number }>;
    if (!rows.length) {
      this.db.prepare('DELETE FROM unknown_clusters WHERE id = ?').run(id);
      this.cache?.delete(id);
      return;
    }
    const sum = new Float64Array(this.space.dim);
    for (const r of rows) {
      const e = f32(r.embedding);
      for (let i = 0; i < sum.length; i++) sum[i] = (sum[i] as number) + (e[i] as number);
    }
    const first = Math.min(...rows.map((r) => r.time));
    const last = Math.max(...rows.map((r) => r.time));
    this.db
      .prepare('UPDATE unknown_clusters SET count = ?, sum = ?, first_seen = ?, last_seen = ? WHERE id = ?')
      .run(rows.length, blob(Float32Array.from(sum)), first, last, id);
    const c = this.cache?.get(id);
    if (c) {
      c.n = rows.length;
      c.sum = sum;
    }
  }

  /**
   * Retention: drops sightings older than maxAgeMs, then the oldest beyond maxSightings (all spaces
   * count), and fixes the clusters they belonged to. Returns how many were dropped.
   */
  prune(room = 0): number {
    const cutoff = this.o.now() - this.o.maxAgeMs;
    const total = (this.db.prepare('SELECT COUNT(*) AS n FROM unknown_sightings').get() as { n: number }).n;
    const over = Math.max(0, total - this.o.maxSightings + room);
    const doomed = this.db
      .prepare(
        `SELECT id, cluster_id AS clusterId FROM unknown_sightings WHERE time < ?
         UNION SELECT id, cluster_id AS clusterId FROM (SELECT id, cluster_id FROM unknown_sightings ORDER BY time, id LIMIT ?)`,
      )
      .all(cutoff, over) as Array<{ id: number; clusterId: number }>;
    if (!doomed.length) return 0;
    const del = this.db.prepare('DELETE FROM unknown_sightings WHERE id = ?');
    for (const d of doomed) del.run(d.id);
    for (const c of new Set(doomed.map((d) => d.clusterId))) this.recompute(c);
    return doomed.length;
  }

  /** Periodic upkeep: retention, then merges of any two clusters that now match. */
  maintain(): { pruned: number; merged: number } {
    let merged = 0;
    const pruned = this.db
      .transaction(() => {
        const n = this.prune(0);
        for (const id of [...this.clusters().keys()].sort((a, b) => a - b))
          if (this.clusters().has(id)) merged += this.mergeInto(id).gone.length;
        return n;
      })
      .immediate();
    this.dataVersion = this.db.pragma('data_version', { simple: true }) as number;
    return { pruned, merged };
  }

  private describe(r: {
    id: number;
    count: number;
    first_seen: number;
    last_seen: number;
    sum: Buffer;
  }): UnknownCluster {
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

  /** Clusters of this space, most recently seen first. */
  list(opts: { minSightings?: number; limit?: number; camera?: string } = {}): UnknownCluster[] {
    const rows = this.db
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
      ) as Array<{ id: number; count: number; first_seen: number; last_seen: number; sum: Buffer }>;
    return rows.map((r) => this.describe(r));
  }

  private row(id: number) {
    if (!Number.isSafeInteger(id) || id <= 0) throw new GalleryError(`invalid cluster id "${id}"`, 400);
    const r = this.db
      .prepare(
        'SELECT id, model, version, dim, count, first_seen, last_seen, sum FROM unknown_clusters WHERE id = ?',
      )
      .get(id) as
      | {
          id: number;
          model: string;
          version: string;
          dim: number;
          count: number;
          first_seen: number;
          last_seen: number;
          sum: Buffer;
        }
      | undefined;
    if (!r) throw new GalleryError(`no unknown-face cluster with id ${id}`, 404);
    return r;
  }

  /** One cluster with its sightings (newest first). */
  cluster(id: number): UnknownCluster & { sightingList: Sighting[] } {
    const r = this.row(id);
    return { ...this.describe(r), sightingList: this.sightings(id) };
  }

  sightings(clusterId: number, limit = 500): Sighting[] {
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
      snapshotUrl: `/api/unknowns/sightings/${s.id}/snapshot.jpg`,
    }));
  }

  /** The cluster's most typical face (the sighting closest to the cluster's mean). */
  snapshot(clusterId: number): Buffer {
    const c = this.row(clusterId);
    const sum = f32(c.sum);
    const rows = this.db
      .prepare(
        'SELECT embedding, snapshot FROM unknown_sightings WHERE cluster_id = ? AND snapshot IS NOT NULL',
      )
      .all(clusterId) as Array<{ embedding: Buffer; snapshot: Buffer }>;
    let best: Buffer | undefined;
    let bestS = Number.NEGATIVE_INFINITY;
    for (const r of rows) {
      const s = dotF(f32(r.embedding), sum);
      if (s > bestS) {
        bestS = s;
        best = r.snapshot;
      }
    }
    if (!best) throw new GalleryError(`cluster ${clusterId} has no snapshot`, 404);
    return best;
  }

  sightingSnapshot(sightingId: number): Buffer {
    const r = this.db.prepare('SELECT snapshot FROM unknown_sightings WHERE id = ?').get(sightingId) as
      | { snapshot: Buffer | null }
      | undefined;
    if (!r?.snapshot) throw new GalleryError(`sighting ${sightingId} has no snapshot`, 404);
    return r.snapshot;
  }

  /** Forgets a cluster and its sightings. */
  deleteCluster(id: number): void {
    this.row(id);
    this.db.prepare('DELETE FROM unknown_clusters WHERE id = ?').run(id);
    this.cache?.delete(id);
    this.dataVersion = this.db.pragma('data_version', { simple: true }) as number;
  }

  /**
   * Names a cluster: its faces are enrolled at once as a new person (or added to the person of that
   * name with `append`), each with its stored embedding and its snapshot as image and thumbnail; at
   * most `maxPhotos` of them, chosen to be varied (farthest-point). The cluster is then removed.
   * The gallery must be in the store's space (the embeddings are used as they are).
   */
  name(
    clusterId: number,
    name: string,
    gallery: Gallery,
    opts: { maxPhotos?: number; append?: boolean } = {},
  ): { person: Person; photos: number; sightings: number } {
    const n = personName(name);
    const c = this.row(clusterId);
    const g = gallery.space;
    if (c.model !== g.model || c.version !== g.version || c.dim !== g.dim)
      throw new GalleryError(
        `cluster ${clusterId} was embedded with ${c.model} (${c.version}), the gallery uses ${g.model} (${g.version}): its faces cannot be enrolled`,
        409,
      );
    const rows = this.db
      .prepare(
        'SELECT id, embedding, snapshot, box FROM unknown_sightings WHERE cluster_id = ? AND snapshot IS NOT NULL ORDER BY time',
      )
      .all(clusterId) as Array<{ id: number; embedding: Buffer; snapshot: Buffer; box: string | null }>;
    if (!rows.length) throw new GalleryError(`cluster ${clusterId} has no face snapshots to enroll`, 409);
    const vectors = rows.map((r) => f32(r.embedding));
    const pick = diverseSubset(vectors, Math.max(1, opts.maxPhotos ?? 20));
    const photos: PhotoInput[] = pick.map((i) => {
      const r = rows[i] as (typeof rows)[number];
      return {
        image: r.snapshot,
        thumbnail: r.snapshot,
        box: r.box ? (JSON.parse(r.box) as [number, number, number, number]) : [0, 0, 0, 0],
        landmarks: [],
        embedding: vectors[i] as Float32Array,
      };
    });
    const existing = gallery.findByName(n);
    if (existing && !opts.append)
      throw new GalleryError(
        `a person named "${n}" already exists${existing.name === n ? '' : ` as "${existing.name}"`} (id ${existing.id}): add append=true to add these faces to them`,
        409,
      );
    const person = existing ? gallery.addPhotos(existing.id, photos) : gallery.addPerson(n, photos);
    this.deleteCluster(clusterId);
    return { person, photos: photos.length, sightings: c.count };
  }

  /**
   * Retrospective search: stored unknown sightings that match an enrolled person (best similarity to
   * any of their photos >= threshold, default the calibrated one), newest first.
   */
  searchPerson(
    personId: number,
    gallery: Gallery,
    opts: { threshold?: number; limit?: number } = {},
  ): Array<Sighting & { similarity: number }> {
    gallery.person(personId);
    const m = gallery.matrix();
    if (m.dim !== this.space.dim) return [];
    const rows: Float32Array[] = [];
    for (let r = 0; r < m.rows; r++)
      if (m.rowPerson[r] === personId) rows.push(m.data.subarray(r * m.dim, (r + 1) * m.dim));
    if (!rows.length)
      throw new GalleryError(
        `person ${personId} has no embedding in the current space: run vigil reembed`,
        409,
      );
    const th = opts.threshold ?? this.o.threshold;
    const hits: Array<Sighting & { similarity: number }> = [];
    const it = this.db
      .prepare(
        `SELECT id, cluster_id AS clusterId, camera, track_id AS trackId, time, embedding, snapshot IS NOT NULL AS has
         FROM unknown_sightings WHERE model = ? AND version = ? ORDER BY time DESC, id DESC`,
      )
      .iterate(this.space.model, this.space.version) as IterableIterator<{
      id: number;
      clusterId: number;
      camera: string;
      trackId: number;
      time: number;
      embedding: Buffer;
      has: number;
    }>;
    for (const r of it) {
      const e = f32(r.embedding);
      let best = Number.NEGATIVE_INFINITY;
      for (const p of rows) best = Math.max(best, dotF(e, p));
      if (best >= th)
        hits.push({
          id: r.id,
          clusterId: r.clusterId,
          camera: r.camera,
          trackId: r.trackId,
          time: r.time,
          similarity: best,
          hasSnapshot: Boolean(r.has),
          snapshotUrl: `/api/unknowns/sightings/${r.id}/snapshot.jpg`,
        });
    }
    return hits.slice(0, Math.max(1, opts.limit ?? 200));
  }

  /** Counts for health / metrics. */
  stats(): { clusters: number; sightings: number } {
    return {
      clusters: (
        this.db
          .prepare('SELECT COUNT(*) AS n FROM unknown_clusters WHERE model = ? AND version = ?')
          .get(this.space.model, this.space.version) as { n: number }
      ).n,
      sightings: (this.db.prepare('SELECT COUNT(*) AS n FROM unknown_sightings').get() as { n: number }).n,
    };
  }
}
