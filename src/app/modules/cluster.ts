/**
 * Cluster mode's camera leases (docs/cluster.md), only on a cluster node (cluster-link.ts): each
 * camera runs only while this node holds its lease: the sources are created as usual
 * (sourcesModule), and the lease manager starts and suspends them instead of streamsModule starting
 * them all. A node takes no more cameras than it runs without dropping frames (capacity.ts, from
 * the drops it measures). Stopping the node hands its cameras over at once.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type pg from 'pg';
import { CapacityTracker } from '../../cluster/capacity.js';
import { LeaseManager } from '../../cluster/leases.js';
import type { ClusterConfig } from '../../config/schema.js';
import type { VigilMetrics } from '../../metrics/metrics.js';
import { defineModule } from '../module.js';
import type { BaseContext } from './base.js';
import type { ClusterLinkContext } from './cluster-link.js';
import type { SourcesContext } from './sources.js';

export interface ClusterNode {
  readonly config: ClusterConfig;
  readonly nats: NatsConnection;
  readonly pool: pg.Pool;
  readonly leases: LeaseManager;
}

export interface ClusterContext {
  /** Undefined on the embedded single node. */
  readonly cluster: ClusterNode | undefined;
}

export const clusterModule = defineModule<BaseContext & ClusterLinkContext & SourcesContext, ClusterContext>({
  name: 'cluster leases',
  start: async ({ log, metrics, sourceSet, clusterLink }, scope) => {
    if (!clusterLink) return { cluster: undefined };
    const { config: cfg, nats, pool } = clusterLink;
    // capacity decided once per fresh drop figure (every 5 heartbeats), from what ran meanwhile
    const capacity = new CapacityTracker(cfg.maxCameras);
    const drops = dropRateSampler(metrics, cfg.heartbeatMs * 5, (rate) =>
      capacity.measure(leases.running().size, rate),
    );
    scope.onStop(() => drops.stop());
    // one start/suspend at a time per camera, each bringing the source to what the lease says now
    // (a lease lost and regained quickly must not leave ffmpeg running or stopped by mistake)
    const chains = new Map<string, Promise<void>>();
    const reconcile = (camera: string) => {
      const next = (chains.get(camera) ?? Promise.resolve()).then(async () => {
        // looked up now: the camera may have been removed or replaced (cluster-cameras.ts)
        const src = sourceSet.get(camera);
        if (!src) return;
        const stopped = src.status.state === 'stopped';
        if (leases.holds(camera)) {
          if (stopped) src.start();
        } else if (!stopped) await src.suspend();
      });
      const done = next.catch(() => undefined);
      chains.set(camera, done);
      return done; // a lease given back is deleted once its camera has stopped here
    };
    const leases: LeaseManager = await LeaseManager.open(nats, {
      node: cfg.node,
      ttlMs: cfg.leaseTtlMs,
      heartbeatMs: cfg.heartbeatMs,
      cameras: () => sourceSet.ids,
      capacity: () => capacity.capacity,
      dropRate: () => drops.rate(),
      onAcquire: reconcile,
      onLose: reconcile,
      log,
    });
    const drift = setInterval(() => {
      for (const id of sourceSet.ids) reconcile(id);
    }, cfg.heartbeatMs);
    // registered after the sources' stop, so it runs before it: leases handed over first
    scope.onStop(async () => {
      clearInterval(drift);
      await leases.stop();
      await Promise.all(chains.values());
    });
    log.info(
      { node: cfg.node, cameras: sourceSet.list.length, maxCameras: cfg.maxCameras },
      'cluster node ready',
    );
    return { cluster: { config: cfg, nats, pool, leases } };
  },
});

/** Drops that say the node cannot keep up (not a slow viewer, not an encoder behind its viewers). */
const OVERLOAD_DROPS = new Set(['inference_busy', 'pool_exhausted', 'inference_error']);

/**
 * This node's share of frames dropped for overload over the last interval: what CapacityTracker
 * sheds cameras on. Read from the metrics the node exports anyway.
 */
function dropRateSampler(
  metrics: VigilMetrics,
  intervalMs: number,
  onRate: (rate: number) => void,
): { rate(): number; stop(): void } {
  type Values = { values: Array<{ value: number; labels: Record<string, string | number> }> };
  const total = async (c: { get(): Promise<Values> }, only?: Set<string>) =>
    (await c.get()).values
      .filter((v) => !only || only.has(String(v.labels.reason)))
      .reduce((sum, v) => sum + v.value, 0);
  let last = { decoded: 0, dropped: 0 };
  let rate = 0;
  const sample = async () => {
    const now = {
      decoded: await total(metrics.framesDecoded),
      dropped: await total(metrics.framesDropped, OVERLOAD_DROPS),
    };
    const decoded = now.decoded - last.decoded;
    rate = decoded > 0 ? Math.min(1, Math.max(0, (now.dropped - last.dropped) / decoded)) : 0;
    last = now;
    onRate(rate);
  };
  const timer = setInterval(() => void sample().catch(() => undefined), intervalMs);
  timer.unref();
  return { rate: () => rate, stop: () => clearInterval(timer) };
}
