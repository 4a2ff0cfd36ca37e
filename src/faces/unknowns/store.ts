import type Database from 'better-sqlite3';
import { type EmbeddingSpace, type Gallery, GalleryError, type Person } from '../gallery/gallery.js';
import type { RgbImage } from '../../util/rgb.js';
import { l2Normalised } from './cluster.js';
import { type ClusterChoice, ClusterIndex } from './clustering.js';
import { enrollCluster } from './naming.js';
import { f32, UnknownRepository } from './repository.js';
import { pruneSightings } from './retention.js';
import { searchPerson } from './search.js';
import { copyRegion, faceSnapshot, mostTypicalSnapshot } from './snapshots.js';
import { TrackLimits } from './track-limits.js';
import type {
  ResolvedUnknownStoreOptions,
  Sighting,
  SightingInput,
  SightingResult,
  UnknownCluster,
  UnknownStoreOptions,
} from './types.js';

export { faceSnapshot } from './snapshots.js';
export type {
  Sighting,
  SightingInput,
  SightingResult,
  UnknownCluster,
  UnknownStoreOptions,
} from './types.js';

function resolveOptions(opts: UnknownStoreOptions, join: number): ResolvedUnknownStoreOptions {
  return {
    threshold: opts.threshold,
    maxSightings: opts.maxSightings ?? 5000,
    maxAgeMs: opts.maxAgeMs ?? 30 * 24 * 3600_000,
    minIntervalMs: opts.minIntervalMs ?? 2000,
    maxPerTrack: opts.maxPerTrack ?? 10,
    trackLinkMs: opts.trackLinkMs ?? 60_000,
    trackLinkMinSimilarity: opts.trackLinkMinSimilarity ?? join - 0.2,
    snapshotSize: opts.snapshotSize ?? 192,
    now: opts.now ?? Date.now,
    log: opts.log,
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
 *
 * A facade: the SQL is in repository.ts, the clustering in clustering.ts (math in cluster.ts),
 * snapshots in snapshots.ts, retention, per-track limits, naming and search in their own files.
 */
export class UnknownStore {
  readonly join: number;
  readonly merge: number;
  private readonly o: ResolvedUnknownStoreOptions;
  private readonly repo: UnknownRepository;
  private readonly clusters: ClusterIndex;
  private readonly limits: TrackLimits;

  constructor(
    readonly db: Database.Database,
    readonly space: EmbeddingSpace,
    opts: UnknownStoreOptions,
  ) {
    this.join = opts.joinThreshold ?? opts.threshold;
    this.merge = opts.mergeThreshold ?? this.join;
    this.o = resolveOptions(opts, this.join);
    this.repo = new UnknownRepository(db, space);
    this.clusters = new ClusterIndex(this.repo, {
      join: this.join,
      merge: this.merge,
      trackLinkMs: this.o.trackLinkMs,
      trackLinkMinSimilarity: this.o.trackLinkMinSimilarity,
    });
    this.limits = new TrackLimits({
      maxPerTrack: this.o.maxPerTrack,
      minIntervalMs: this.o.minIntervalMs,
      forgetAfterMs: this.o.trackLinkMs,
    });
  }

  /** Should a sighting of this track be kept now? (per-track rate and count limits) */
  wants(camera: string, trackId: number, now = this.o.now()): boolean {
    return this.limits.wants(camera, trackId, now);
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
  }): Promise<SightingResult | undefined> {
    if (!this.wants(s.camera, s.trackId)) return Promise.resolve(undefined);
    this.limits.note(s.camera, s.trackId, this.o.now());
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

  /**
   * Stores a sighting and clusters it: joins the track's recent cluster (same camera and track id,
   * similar enough), else the best-matching cluster at or above the join threshold, else a new one.
   */
  addSighting(s: SightingInput): SightingResult {
    const x = this.normalisedEmbedding(s.embedding);
    if (!this.limits.knows(s.camera, s.trackId)) this.limits.note(s.camera, s.trackId, this.o.now());
    const run = this.db.transaction(() => this.storeAndCluster(s, x));
    let r: SightingResult;
    try {
      r = run.immediate();
    } catch (e) {
      this.clusters.invalidate(); // the in-memory sums may hold the rolled-back change
      throw e;
    }
    this.clusters.markCurrent();
    return r;
  }

  /** The sighting's embedding at unit length; one of another dimension is refused. */
  private normalisedEmbedding(embedding: Float32Array): Float32Array {
    if (embedding.length !== this.space.dim)
      throw new GalleryError(
        `sighting embedding has ${embedding.length} values, the ${this.space.model} space has ${this.space.dim}`,
        500,
      );
    return l2Normalised(embedding);
  }

  /** Inside addSighting's transaction: makes room, files the sighting in its cluster, merges. */
  private storeAndCluster(s: SightingInput, x: Float32Array): SightingResult {
    this.prune(1); // room for this one
    const choice: ClusterChoice = this.clusters.choose(s, x);
    const clusterId = choice.target
      ? this.clusters.grow(choice.target, x, s.time)
      : this.clusters.create(x, s.time);
    const sightingId = this.repo.insertSighting(clusterId, s, x);
    const m = choice.target ? this.clusters.mergeInto(clusterId) : { id: clusterId, gone: [] };
    return { sightingId, clusterId: m.id, how: choice.how, similarity: choice.similarity, merged: m.gone };
  }

  /**
   * Retention: drops sightings older than maxAgeMs, then the oldest beyond maxSightings (all spaces
   * count), and fixes the clusters they belonged to. Returns how many were dropped.
   */
  prune(room = 0): number {
    const { maxAgeMs, maxSightings } = this.o;
    return pruneSightings(this.repo, this.clusters, { now: this.o.now(), maxAgeMs, maxSightings, room });
  }

  /** Periodic upkeep: retention, then merges of any two clusters that now match. */
  maintain(): { pruned: number; merged: number } {
    let merged = 0;
    const pruned = this.db
      .transaction(() => {
        const n = this.prune(0);
        for (const id of [...this.clusters.all().keys()].sort((a, b) => a - b))
          if (this.clusters.all().has(id)) merged += this.clusters.mergeInto(id).gone.length;
        return n;
      })
      .immediate();
    this.clusters.markCurrent();
    return { pruned, merged };
  }

  /** Clusters of this space, most recently seen first. */
  list(opts: { minSightings?: number; limit?: number; camera?: string } = {}): UnknownCluster[] {
    return this.repo.clusterRows(opts).map((r) => this.repo.describe(r));
  }

  /** One cluster with its sightings (newest first). */
  cluster(id: number): UnknownCluster & { sightingList: Sighting[] } {
    const r = this.repo.requireCluster(id);
    return { ...this.repo.describe(r), sightingList: this.sightings(id) };
  }

  sightings(clusterId: number, limit = 500): Sighting[] {
    return this.repo.sightings(clusterId, limit);
  }

  /** The cluster's most typical face (the sighting closest to the cluster's mean). */
  snapshot(clusterId: number): Buffer {
    const c = this.repo.requireCluster(clusterId);
    const members = this.repo
      .snapshotsOf(clusterId)
      .map((r) => ({ embedding: f32(r.embedding), snapshot: r.snapshot }));
    const best = mostTypicalSnapshot(members, f32(c.sum));
    if (!best) throw new GalleryError(`cluster ${clusterId} has no snapshot`, 404);
    return best;
  }

  sightingSnapshot(sightingId: number): Buffer {
    const snapshot = this.repo.sightingSnapshot(sightingId);
    if (!snapshot) throw new GalleryError(`sighting ${sightingId} has no snapshot`, 404);
    return snapshot;
  }

  /** Forgets a cluster and its sightings. */
  deleteCluster(id: number): void {
    this.repo.requireCluster(id);
    this.repo.deleteCluster(id);
    this.clusters.forget(id);
    this.clusters.markCurrent();
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
    const enrolled = enrollCluster(this.repo, clusterId, name, gallery, opts);
    this.deleteCluster(clusterId);
    return enrolled;
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
    return searchPerson(this.repo, personId, gallery, {
      threshold: opts.threshold ?? this.o.threshold,
      limit: opts.limit ?? 200,
    });
  }

  /** Counts for health / metrics. */
  /** The mean face of each of the `limit` clusters seen last (newest first): the site's strangers. */
  centroids(limit: number): Array<{ clusterId: number; embedding: Float32Array }> {
    return this.repo.recentClusterSums(limit).map((c) => ({
      clusterId: c.id,
      embedding: Float32Array.from(c.sum, (x) => x / c.n),
    }));
  }

  stats(): { clusters: number; sightings: number } {
    return { clusters: this.repo.clusterCount(), sightings: this.repo.sightingCount() };
  }
}
