/**
 * Camera leases: each camera of the cluster runs on exactly one node, the one holding the key
 * `cam.<id>` of the JetStream KV bucket `vigil_leases`. The bucket's max age is the lease TTL, so
 * a key not rewritten for that long disappears (NATS 2.9 has no per-key TTL); the holder rewrites
 * it every heartbeat with its revision as the expected last sequence (compare-and-set), so:
 *   - take: `create` succeeds for one node only;
 *   - renew: `update(rev)` fails once anyone else wrote the key: the camera is lost (fencing by
 *     revision), never run twice;
 *   - self-fence: a holder that could not renew within TTL - heartbeat (paused, partitioned, NATS
 *     down) stops the camera before the key can expire and be taken elsewhere; if its revision is
 *     still the key's afterwards, nobody took it and it runs again;
 *   - hand over: a node stopping deletes its keys (with their revisions) at once.
 * Each node heartbeats `vigil_nodes/<node>` (same TTL) with its capacity; every node computes the
 * same share per node (capacity.ts) and takes free cameras up to its share, or gives back what is
 * over it (a node joined, or it drops frames), so cameras rebalance without a coordinator.
 */
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { LeaseValue, NodeValue } from '../defs/cluster.js';
import type { Logger } from '../log.js';
import { allocate, preference } from './capacity.js';

export const LEASE_BUCKET = 'vigil_leases';
export const NODE_BUCKET = 'vigil_nodes';

export type LossReason = 'expired' | 'taken' | 'rebalanced' | 'removed' | 'stopping';

export interface LeaseOptions {
  node: string;
  ttlMs: number;
  heartbeatMs: number;
  /** The cluster's camera ids now (they may change between rounds). */
  cameras: () => readonly string[];
  /** What this node can run now (capacity.ts). */
  capacity: (held: number) => number;
  dropRate?: () => number;
  url?: string;
  /** Start the camera: this node holds it from now on. */
  onAcquire: (camera: string, revision: number) => void;
  /**
   * Stop the camera now. When the lease is given back (rebalanced, removed, stopping) the key is
   * deleted only once this resolves: another node must not start it while it still runs here.
   */
  onLose: (camera: string, reason: LossReason) => void | Promise<void>;
  log: Logger;
  replicas?: number;
}

interface Held {
  revision: number;
  acquiredAt: number;
  /** Local time the last successful write was sent: the lease is ours until this + TTL. */
  writtenAt: number;
  /** False while self-fenced (not renewed in time); true again once a renewal succeeds. */
  running: boolean;
}

const key = (camera: string) => `cam.${camera}`;

function isConflict(e: unknown): boolean {
  const err = e as { message?: string; code?: number; api_error?: { err_code?: number } };
  return /wrong last sequence/i.test(err.message ?? '') || err.api_error?.err_code === 10071;
}

export class LeaseManager {
  private readonly held = new Map<string, Held>();
  /** Leases being given back (their cameras stopping). */
  private readonly releasing = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private fence: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private stopped = false;
  private readonly startedAt = Date.now();
  private url: string | undefined;
  /** The last round's view: camera -> owner (null: free), node -> capacity. */
  owners = new Map<string, string | null>();
  nodes = new Map<string, NodeValue>();

  private constructor(
    private readonly leases: KV,
    private readonly nodeKv: KV,
    private readonly jsm: JetStreamManager,
    private readonly opts: LeaseOptions,
  ) {
    this.url = opts.url;
  }

  /** Where this node's HTTP server is reached (its heartbeats say so from the next round on). */
  advertise(url: string): void {
    this.url = url;
  }

  static async open(nc: NatsConnection, opts: LeaseOptions): Promise<LeaseManager> {
    const js = jetstream(nc, { timeout: Math.max(500, opts.heartbeatMs) });
    const kvm = new Kvm(js);
    const bucket = { history: 1, ttl: opts.ttlMs, storage: 'file' as const, replicas: opts.replicas ?? 1 };
    const leases = await kvm.create(LEASE_BUCKET, bucket);
    const nodeKv = await kvm.create(NODE_BUCKET, bucket);
    return new LeaseManager(leases, nodeKv, await jetstreamManager(nc), opts);
  }

  /** Starts the rounds (one now, then every heartbeat) and the self-fencing check. */
  start(): void {
    const loop = async () => {
      if (this.stopped) return;
      this.ticking = this.tick().catch((e) =>
        this.opts.log.warn({ err: (e as Error).message }, 'lease round failed'),
      );
      await this.ticking;
      if (!this.stopped) this.timer = setTimeout(loop, this.opts.heartbeatMs);
    };
    void loop();
    this.fence = setInterval(() => this.selfFence(), Math.max(50, this.opts.heartbeatMs / 4));
  }

  /** True while this node holds `camera` and may run it (checked per frame, no I/O). */
  holds(camera: string): boolean {
    const h = this.held.get(camera);
    return !!h && h.running && Date.now() < this.deadline(h);
  }

  /** The cameras this node runs now, with their lease revisions. */
  running(): Map<string, number> {
    return new Map([...this.held].filter(([c]) => this.holds(c)).map(([c, h]) => [c, h.revision]));
  }

  /** Valid until the write was sent + TTL, less one heartbeat of margin for the server's clock. */
  private deadline(h: Held): number {
    return h.writtenAt + this.opts.ttlMs - this.opts.heartbeatMs;
  }

  /** Stops every camera whose lease could not be renewed in time (sync: before any frame). */
  private selfFence(): void {
    const now = Date.now();
    for (const [camera, h] of this.held) {
      if (h.running && now >= this.deadline(h)) {
        h.running = false;
        this.opts.log.warn({ camera, node: this.opts.node }, 'lease not renewed in time: camera stopped');
        this.opts.onLose(camera, 'expired');
      }
    }
  }

  /** One round: renew, look at the cluster, take or give back to reach this node's share. */
  async tick(): Promise<void> {
    this.selfFence();
    await this.renewAll();
    this.releaseRemoved();
    await this.heartbeat();
    await this.readView();
    const share = this.share();
    const mine = [...this.held.keys()];
    if (mine.length > share) this.giveBack(mine.length - share);
    else if (mine.length < share) await this.take(share - mine.length);
  }

  private value(acquiredAt: number): string {
    return JSON.stringify(LeaseValue.parse({ node: this.opts.node, acquiredAt }));
  }

  private async renewAll(): Promise<void> {
    await Promise.all(
      [...this.held].map(async ([camera, h]) => {
        const sentAt = Date.now();
        try {
          h.revision = await this.leases.update(key(camera), this.value(h.acquiredAt), h.revision);
          h.writtenAt = sentAt;
          if (!h.running) {
            // nobody wrote the key while we could not renew: it is still ours
            h.running = true;
            this.opts.log.info({ camera, node: this.opts.node }, 'lease renewed again: camera restarts');
            this.opts.onAcquire(camera, h.revision);
          }
        } catch (e) {
          if (!isConflict(e)) return; // NATS unreachable: the self-fence stops it in time
          this.held.delete(camera);
          if (h.running) this.opts.onLose(camera, 'taken');
          this.opts.log.warn({ camera, node: this.opts.node }, 'lease lost to another node: camera stopped');
        }
      }),
    );
  }

  /** Gives back the leases of cameras no longer in the cluster (removed from PostgreSQL). */
  private releaseRemoved(): void {
    const known = new Set(this.opts.cameras());
    const gone = [...this.held.keys()].filter((c) => !known.has(c));
    for (const c of gone) this.releaseSoon(c, 'removed');
  }

  private async heartbeat(): Promise<void> {
    const held = this.held.size;
    const value = NodeValue.parse({
      node: this.opts.node,
      capacity: this.opts.capacity(held),
      held,
      dropRate: Math.min(1, Math.max(0, this.opts.dropRate?.() ?? 0)),
      url: this.url,
      startedAt: this.startedAt,
    });
    await this.nodeKv.put(this.opts.node, JSON.stringify(value));
    this.nodes.set(this.opts.node, value);
  }

  /** Which nodes are alive (keys of the node bucket, one stream-info request) and who owns what. */
  private async readView(): Promise<void> {
    const info = await this.jsm.streams.info(`KV_${NODE_BUCKET}`, { subjects_filter: '>' });
    const names = Object.keys(info.state.subjects ?? {}).map((s) => s.slice(`$KV.${NODE_BUCKET}.`.length));
    const nodes = new Map<string, NodeValue>();
    await Promise.all(
      names.map(async (n) => {
        const e = await this.nodeKv.get(n);
        if (e?.operation !== 'PUT') return;
        const v = NodeValue.safeParse(e.json());
        if (v.success) nodes.set(n, v.data);
      }),
    );
    this.nodes = nodes;
    const owners = new Map<string, string | null>();
    await Promise.all(
      this.opts.cameras().map(async (camera) => {
        const e = await this.leases.get(key(camera));
        const v = e?.operation === 'PUT' ? LeaseValue.safeParse(e.json()) : undefined;
        owners.set(camera, v?.success ? v.data.node : null);
      }),
    );
    this.owners = owners;
  }

  /** This node's share of the cameras among the live nodes. */
  share(): number {
    const capacities = new Map([...this.nodes].map(([n, v]) => [n, v.capacity]));
    return allocate(this.opts.cameras().length, capacities).get(this.opts.node) ?? 0;
  }

  private async take(want: number): Promise<void> {
    const free = [...this.owners]
      .filter(([c, owner]) => owner === null && !this.held.has(c))
      .map(([c]) => c)
      .sort((a, b) => preference(this.opts.node, a) - preference(this.opts.node, b));
    for (const camera of free) {
      if (want === 0 || this.stopped) return;
      const sentAt = Date.now();
      try {
        const revision = await this.leases.create(key(camera), this.value(sentAt));
        this.held.set(camera, { revision, acquiredAt: sentAt, writtenAt: sentAt, running: true });
        this.owners.set(camera, this.opts.node);
        want--;
        this.opts.log.info({ camera, node: this.opts.node, revision }, 'lease taken: camera starts');
        this.opts.onAcquire(camera, revision);
      } catch (e) {
        if (!isConflict(e)) throw e; // another node was faster: try the next one
      }
    }
  }

  /** Stops `n` cameras (then deletes their keys, so another node takes them on its next round). */
  private giveBack(n: number): void {
    const mine = [...this.held.keys()].sort(
      (a, b) => preference(this.opts.node, b) - preference(this.opts.node, a),
    );
    for (const c of mine.slice(0, n)) this.releaseSoon(c, 'rebalanced');
  }

  /**
   * Gives a lease back without holding up the round: the camera's stop (ffmpeg's exit) may take
   * a while, and the other leases must be renewed meanwhile. Its key goes once it has stopped.
   */
  private releaseSoon(camera: string, reason: LossReason): void {
    const p: Promise<void> = this.release(camera, reason).finally(() => this.releasing.delete(p));
    this.releasing.add(p);
  }

  private async release(camera: string, reason: LossReason): Promise<void> {
    const h = this.held.get(camera);
    if (!h) return;
    this.held.delete(camera);
    if (h.running) await this.opts.onLose(camera, reason);
    try {
      await this.leases.delete(key(camera), { previousSeq: h.revision });
      this.opts.log.info({ camera, node: this.opts.node, reason }, 'lease given back');
    } catch (e) {
      // taken meanwhile, or NATS away: it expires by itself
      this.opts.log.debug({ camera, err: (e as Error).message }, 'lease give-back failed');
    }
  }

  /** Graceful stop: every camera stopped and its lease deleted now, the heartbeat removed. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.fence);
    await this.ticking;
    await Promise.all([...this.held.keys()].map((c) => this.release(c, 'stopping')));
    await Promise.all(this.releasing);
    await this.nodeKv.delete(this.opts.node).catch(() => undefined);
  }
}
