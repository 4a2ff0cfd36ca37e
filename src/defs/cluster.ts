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
  })
  .strict();
export type ClusterEvent = z.infer<typeof ClusterEvent>;
