/**
 * Cluster mode (docs/cluster.md), only when `cluster` or VIGIL_CLUSTER_NATS is set: connects to
 * NATS and PostgreSQL (retrying with backoff, each failure naming the URL), and runs each camera
 * only while this node holds its lease: the sources are created as usual (sourcesModule), and the
 * lease manager starts and suspends them instead of streamsModule starting them all. Stopping the
 * node hands its cameras over at once.
 * Not wired yet: the PostgreSQL gallery replica and the events stream (src/cluster/), see the
 * "What is left" list of docs/cluster.md.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type pg from 'pg';
import { capacityFromDrops } from '../../cluster/capacity.js';
import { resolveCluster } from '../../cluster/config.js';
import { connectNats, connectPostgres } from '../../cluster/connect.js';
import { LeaseManager } from '../../cluster/leases.js';
import type { ClusterConfig } from '../../config/schema.js';
import { defineModule } from '../module.js';
import type { BaseContext } from './base.js';
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

export const clusterModule = defineModule<BaseContext & SourcesContext, ClusterContext>({
  name: 'cluster',
  start: async ({ config, log, sources }, scope) => {
    const cfg = resolveCluster(config.cluster);
    if (!cfg) return { cluster: undefined };
    const nats = await connectNats(cfg, log);
    scope.onStop(() => nats.close());
    const pool = await connectPostgres(cfg, log);
    scope.onStop(() => pool.end());
    const byId = new Map(sources.map((s) => [s.id, s]));
    // one start/suspend at a time per camera, each bringing the source to what the lease says now
    // (a lease lost and regained quickly must not leave ffmpeg running or stopped by mistake)
    const chains = new Map<string, Promise<void>>();
    const reconcile = (camera: string) => {
      const src = byId.get(camera);
      if (!src) return;
      const next = (chains.get(camera) ?? Promise.resolve()).then(async () => {
        const stopped = src.status.state === 'stopped';
        if (leases.holds(camera)) {
          if (stopped) src.start();
        } else if (!stopped) await src.suspend();
      });
      chains.set(
        camera,
        next.catch(() => undefined),
      );
    };
    const leases: LeaseManager = await LeaseManager.open(nats, {
      node: cfg.node,
      ttlMs: cfg.leaseTtlMs,
      heartbeatMs: cfg.heartbeatMs,
      cameras: () => config.streams.map((s) => s.id),
      // the drop rate is not measured per node yet: capacity is maxCameras
      capacity: (held) => capacityFromDrops(cfg.maxCameras, held, 0),
      onAcquire: reconcile,
      onLose: reconcile,
      log,
    });
    const drift = setInterval(() => {
      for (const id of byId.keys()) reconcile(id);
    }, cfg.heartbeatMs);
    // registered after the sources' stop, so it runs before it: leases handed over first
    scope.onStop(async () => {
      clearInterval(drift);
      await leases.stop();
      await Promise.all(chains.values());
    });
    log.info({ node: cfg.node, cameras: byId.size, maxCameras: cfg.maxCameras }, 'cluster node ready');
    return { cluster: { config: cfg, nats, pool, leases } };
  },
});
