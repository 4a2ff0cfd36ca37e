/**
 * The cluster's boundary (src/cluster/): what nodes write to each other through NATS, one zod
 * definition each, validated on every read, since another node (maybe another version) wrote it.
 *   - LeaseValue: the value of `vigil_leases/cam.<id>`, the camera's one owner;
 *   - NodeValue: the value of `vigil_nodes/<node>`, a node's heartbeat with what it can take.
 */
import { z } from 'zod';

const nodeName = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);

export const LeaseValue = z
  .object({
    node: nodeName,
    /** When this owner first took the lease (ms since epoch, the owner's clock; for display). */
    acquiredAt: z.number(),
  })
  .strict();
export type LeaseValue = z.infer<typeof LeaseValue>;

export const NodeValue = z
  .object({
    node: nodeName,
    /** How many cameras it can run now (maxCameras, less while it drops frames). */
    capacity: z.number().int().min(0),
    /** How many it runs. */
    held: z.number().int().min(0),
    /** Its measured share of frames dropped over the last interval, 0..1. */
    dropRate: z.number().min(0).max(1),
    /** Where its HTTP server is reached by the other nodes and Prometheus, when known. */
    url: z.string().optional(),
    startedAt: z.number(),
  })
  .strict();
export type NodeValue = z.infer<typeof NodeValue>;

/**
 * An alert or unknown-face sighting on the `VIGIL_EVENTS` stream (events-stream.ts); `id` is the
 * Nats-Msg-Id (JetStream drops a second publish of it) and the primary key where it is stored.
 */
export const ClusterEvent = z
  .object({
    id: z.string().min(1).max(128),
    kind: z.enum(['alert', 'unknown']),
    camera: z.string().min(1).max(64),
    node: nodeName,
    /** The camera's lease revision when raised: which holder raised it (fencing evidence). */
    leaseRevision: z.number().int().min(0),
    at: z.number(),
    /** The alert as the sinks get it (src/faces/alerts.ts), opaque here. */
    payload: z.record(z.string(), z.unknown()),
    /**
     * The cluster-wide form of the alert rule (a camera that moved to another node mid-appearance
     * must not announce the same person twice): the first stored event of this camera and key
     * within windowMs of another wins, the other is kept as its duplicate and not delivered. With
     * `embedding` (base64 float32, unit length) the events must also be that similar: the same
     * stranger, not every unknown face.
     */
    dedupe: z
      .object({
        key: z.string().min(1).max(128),
        windowMs: z.number().int().min(0),
        embedding: z.string().max(16_384).optional(),
        minSimilarity: z.number().min(-1).max(1).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();
export type ClusterEvent = z.infer<typeof ClusterEvent>;

/** The payload of an alert event: the alert as the raising node's stage made it. */
export const AlertPayload = z
  .object({
    fields: z
      .object({
        camera: z.string(),
        sub_label: z.string(),
        person_id: z.number().int().nullable(),
        score: z.number(),
        track_id: z.number().int(),
        start_time: z.number(),
      })
      .strict(),
    /** The face snapshot, JPEG, base64. */
    snapshot: z.string().optional(),
    /** Where the face is in the snapshot (src/faces/snapshot.ts's SnapshotFace), checked there. */
    face: z.unknown().optional(),
  })
  .strict();
export type AlertPayload = z.infer<typeof AlertPayload>;

/**
 * `vigil.watch.<camera>` (frames-relay.ts): a node whose viewers watch a camera it does not hold
 * says so every couple of seconds; `watching: false` when its last viewer of it left. The holder
 * publishes the camera's frames on `vigil.frames.<camera>` while any such watch is fresh.
 */
export const WatchMessage = z
  .object({
    node: nodeName,
    camera: z.string().min(1).max(64),
    watching: z.boolean(),
  })
  .strict();
export type WatchMessage = z.infer<typeof WatchMessage>;

/**
 * The JSON part of a `vigil.frames.<camera>` message: who sent it, and the frame's header as its
 * viewers get it (src/defs/ws.ts FrameHeader, checked there). The message is a 4-byte LE length,
 * this JSON, then the JPEG: the viewers' own frame layout.
 */
export const RelayedFrameMeta = z
  .object({
    node: nodeName,
    header: z.record(z.string(), z.unknown()),
  })
  .strict();
export type RelayedFrameMeta = z.infer<typeof RelayedFrameMeta>;

/** GET /api/cluster: one node of the cluster as any node sees it. */
export const ClusterNodeEntry = z.object({
  node: nodeName,
  capacity: z.number().int(),
  held: z.number().int(),
  dropRate: z.number(),
  url: z.string().nullable(),
  startedAt: z.number(),
  /** ms epoch of its last heartbeat seen in vigil_nodes. */
  lastSeen: z.number(),
  /** Heartbeat seen within 3 heartbeats; false: seen lately, now silent or gone. */
  alive: z.boolean(),
});
export type ClusterNodeEntry = z.infer<typeof ClusterNodeEntry>;

/** GET /api/cluster: one camera and the node holding its lease (null: free, being taken). */
export const ClusterCameraEntry = z.object({
  id: z.string(),
  node: nodeName.nullable(),
  /** Lease revision (fencing token) and when its holder took it. */
  revision: z.number().int().nullable(),
  acquiredAt: z.number().nullable(),
});
export type ClusterCameraEntry = z.infer<typeof ClusterCameraEntry>;

export const ClusterOverview = z.object({
  /** The node that answered. */
  self: nodeName,
  nodes: z.array(ClusterNodeEntry),
  cameras: z.array(ClusterCameraEntry),
});
export type ClusterOverview = z.infer<typeof ClusterOverview>;
