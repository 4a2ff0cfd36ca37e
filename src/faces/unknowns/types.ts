/** The public shapes of the unknown-face store (src/faces/unknowns/store.ts re-exports them). */

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

/** The options with their defaults filled in (thresholds are kept on the store itself). */
export type ResolvedUnknownStoreOptions = Required<
  Omit<UnknownStoreOptions, 'joinThreshold' | 'mergeThreshold' | 'log'>
> &
  Pick<UnknownStoreOptions, 'log'>;

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

/** How a stored sighting was clustered: its track's cluster, a similar one, or a new one. */
export type JoinedBy = 'track' | 'similar' | 'new';

export interface SightingResult {
  sightingId: number;
  clusterId: number;
  how: JoinedBy;
  similarity: number;
  merged: number[];
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
