/**
 * What any node knows of the whole cluster, read from the lease buckets (leases.ts): the nodes
 * (`vigil_nodes`, each heartbeat a NodeValue) and who holds each camera (`vigil_leases`, a
 * LeaseValue). Read on demand (GET /api/cluster, /api/streams, the Prometheus file_sd), at most
 * once per `maxAgeMs`: concurrent readers share one read. A node whose key expired or was deleted
 * is still listed, `alive: false`, for a while (node health, not just a roll call).
 */
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { type KV, type KvEntry, Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  type ClusterCameraEntry,
  type ClusterNodeEntry,
  type ClusterOverview,
  LeaseValue,
  NodeValue,
} from '../defs/cluster.js';
import { LEASE_BUCKET, NODE_BUCKET } from './leases.js';

/** A node gone from the bucket is still shown (alive: false) this long. */
const FORGET_AFTER_MS = 5 * 60_000;

export interface ClusterViewOptions {
  node: string;
  heartbeatMs: number;
  /** A read is reused this long (default: half a heartbeat). */
  maxAgeMs?: number;
}

export class ClusterView {
  private readonly known = new Map<string, ClusterNodeEntry>();
  private last: { at: number; overview: Promise<ClusterOverview> } | undefined;

  private constructor(
    private readonly jsm: JetStreamManager,
    private readonly nodes: KV,
    private readonly leases: KV,
    private readonly opts: ClusterViewOptions,
  ) {}

  /** Opens the buckets the lease manager created (it opens them first, at start-up). */
  static async open(nc: NatsConnection, opts: ClusterViewOptions): Promise<ClusterView> {
    const kvm = new Kvm(jetstream(nc, { timeout: Math.max(1000, opts.heartbeatMs) }));
    const [nodes, leases] = await Promise.all([kvm.open(NODE_BUCKET), kvm.open(LEASE_BUCKET)]);
    return new ClusterView(await jetstreamManager(nc), nodes, leases, opts);
  }

  /** The nodes and cameras now (a read at most `maxAgeMs` old). */
  overview(): Promise<ClusterOverview> {
    const now = Date.now();
    const maxAge = this.opts.maxAgeMs ?? this.opts.heartbeatMs / 2;
    if (!this.last || now - this.last.at >= maxAge) {
      const overview = this.read();
      this.last = { at: now, overview };
      // a failed read is not reused
      overview.catch(() => {
        if (this.last?.overview === overview) this.last = undefined;
      });
    }
    return this.last.overview;
  }

  private async read(): Promise<ClusterOverview> {
    const [nodes, cameras] = await Promise.all([this.readNodes(), this.readCameras()]);
    return { self: this.opts.node, nodes, cameras };
  }

  private async readNodes(): Promise<ClusterNodeEntry[]> {
    const now = Date.now();
    const seen = new Set<string>();
    for (const e of await this.entries(this.nodes, NODE_BUCKET)) {
      const v = NodeValue.safeParse(e.json());
      if (!v.success) continue;
      seen.add(v.data.node);
      const lastSeen = e.created.getTime();
      this.known.set(v.data.node, {
        ...v.data,
        url: v.data.url ?? null,
        lastSeen,
        alive: now - lastSeen <= 3 * this.opts.heartbeatMs,
      });
    }
    for (const [name, n] of this.known) {
      if (seen.has(name)) continue;
      if (now - n.lastSeen > FORGET_AFTER_MS) this.known.delete(name);
      else n.alive = false;
    }
    return [...this.known.values()].sort((a, b) => a.node.localeCompare(b.node));
  }

  private async readCameras(): Promise<ClusterCameraEntry[]> {
    const out: ClusterCameraEntry[] = [];
    for (const e of await this.entries(this.leases, LEASE_BUCKET)) {
      if (!e.key.startsWith('cam.')) continue;
      const v = LeaseValue.safeParse(e.json());
      if (v.success)
        out.push({
          id: e.key.slice(4),
          node: v.data.node,
          revision: e.revision,
          acquiredAt: v.data.acquiredAt,
        });
    }
    return out.sort((a, b) => a.id.localeCompare(b.id));
  }

  /** The live entries of a bucket: its keys from one stream-info request, then one get each. */
  private async entries(kv: KV, bucket: string): Promise<KvEntry[]> {
    const info = await this.jsm.streams.info(`KV_${bucket}`, { subjects_filter: '>' });
    const keys = Object.keys(info.state.subjects ?? {}).map((s) => s.slice(`$KV.${bucket}.`.length));
    const got = await Promise.all(keys.map((k) => kv.get(k).catch(() => null)));
    return got.filter((e): e is KvEntry => e?.operation === 'PUT');
  }
}

/**
 * GET /api/streams in cluster mode: every camera of the cluster with the node holding it; the
 * local status for the cameras this node runs, `state: "remote"` for those another node runs.
 */
export function clusterStreams(
  overview: ClusterOverview,
  configured: readonly string[],
  local: (camera: string) => object | undefined,
): object[] {
  const holder = new Map(overview.cameras.map((c) => [c.id, c.node]));
  const ids = [...new Set([...configured, ...holder.keys()])];
  return ids.map((id) => {
    const node = holder.get(id) ?? null;
    const mine = node === overview.self ? local(id) : undefined;
    if (mine) return { ...mine, node };
    return { id, state: node ? 'remote' : 'unassigned', node };
  });
}
