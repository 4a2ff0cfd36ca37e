/**
 * Cluster mode's connections (docs/cluster.md), only when `cluster` or VIGIL_CLUSTER_NATS is set:
 * NATS and PostgreSQL, each retried with backoff until it answers (every failure naming the URL).
 * Early in start-up, because the gallery (face-stores.ts) and the alerts (alert-sinks.ts) of a
 * cluster node live there; the camera leases come later (cluster.ts), once the sources exist.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type pg from 'pg';
import { resolveCluster } from '../../cluster/config.js';
import { connectNats, connectPostgres } from '../../cluster/connect.js';
import type { ClusterConfig } from '../../config/schema.js';
import { defineModule } from '../module.js';
import type { BaseContext } from './base.js';

/** A cluster node's settings and its two connections. */
export interface ClusterLink {
  readonly config: ClusterConfig;
  readonly nats: NatsConnection;
  readonly pool: pg.Pool;
}

export interface ClusterLinkContext {
  /** Undefined on the embedded single node. */
  readonly clusterLink: ClusterLink | undefined;
}

export const clusterLinkModule = defineModule<BaseContext, ClusterLinkContext>({
  name: 'cluster link',
  start: async ({ config, log, metrics }, scope) => {
    const cfg = resolveCluster(config.cluster);
    if (!cfg) return { clusterLink: undefined };
    // every series of this node says which node it is (one Prometheus scrapes them all)
    metrics.labelNode(cfg.node);
    const nats = await connectNats(cfg, log);
    scope.onStop(() => nats.close());
    const pool = await connectPostgres(cfg, log);
    scope.onStop(() => pool.end());
    return { clusterLink: { config: cfg, nats, pool } };
  },
});
