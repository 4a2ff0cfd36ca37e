/**
 * One UI of the cluster (docs/cluster.md), only in cluster mode, right after the cluster module:
 *   - the API of the whole cluster: GET /api/cluster and a cluster-wide GET /api/streams, from the
 *     lease buckets (cluster-view.ts), through the HTTP module's slot;
 *   - live frames across nodes (frames-relay.ts): this hub's viewers see cameras held elsewhere,
 *     and this node publishes its cameras' frames while another node's viewers watch them; the
 *     viewers' statuses name each camera's node (`remote` for the others' cameras);
 *   - a `node` label on every metric, and this node's URL in its heartbeats;
 *   - with cluster.prometheusFileSd, a Prometheus file_sd of the live nodes, kept current.
 * On the embedded single node it starts nothing.
 */
import { hostname } from 'node:os';
import { ClusterView, clusterStreams } from '../../cluster/cluster-view.js';
import { FramesRelay } from '../../cluster/frames-relay.js';
import { FileSdWriter, fileSdGroups } from '../../cluster/prometheus-sd.js';
import type { ClusterConfig } from '../../config/schema.js';
import type { Logger } from '../../log.js';
import { defineModule, type ModuleScope } from '../module.js';
import type { BaseContext } from './base.js';
import type { ClusterContext, ClusterNode } from './cluster.js';
import type { HttpContext } from './http.js';
import type { OutputContext } from './output.js';
import type { SourcesContext } from './sources.js';

type Needs = BaseContext & SourcesContext & OutputContext & HttpContext & ClusterContext;

/** cluster.advertiseUrl, else this server's address (the host name when it listens on all). */
export function advertisedUrl(cfg: ClusterConfig, address: { host: string; port: number }): string {
  if (cfg.advertiseUrl) return cfg.advertiseUrl.replace(/\/$/, '');
  const any = address.host === '0.0.0.0' || address.host === '::' || address.host === '';
  const host = any ? hostname() : address.host.includes(':') ? `[${address.host}]` : address.host;
  return `http://${host}:${address.port}`;
}

export const clusterUiModule = defineModule<Needs, object>({
  name: 'cluster ui',
  start: async (ctx, scope) => {
    const { cluster, metrics, sources, sourceSet, clusterApi, address, log } = ctx;
    if (!cluster) return {};
    const cfg = cluster.config;
    cluster.leases.advertise(advertisedUrl(cfg, address));
    const view = await ClusterView.open(cluster.nats, { node: cfg.node, heartbeatMs: cfg.heartbeatMs });
    const localStreams = () => sources.map((s) => ({ ...s.status, node: cfg.node }));
    clusterApi.current = {
      overview: () => view.overview(),
      // NATS unreadable: at least what this node runs
      streams: () =>
        view
          .overview()
          .then((o) => clusterStreams(o, sourceSet.ids, (id) => sourceSet.get(id)?.status))
          .catch(() => localStreams()),
    };
    scope.onStop(() => {
      clusterApi.current = undefined;
    });
    startRelay(cluster, ctx, scope);
    showHolders({ ...ctx, cluster }, scope);
    if (cfg.prometheusFileSd) keepFileSd(view, cfg.prometheusFileSd, cfg.heartbeatMs, log, scope);
    log.info({ node: cfg.node, url: advertisedUrl(cfg, address) }, 'cluster ui ready');
    return {};
  },
});

function startRelay(cluster: ClusterNode, { sourceSet, hub, log }: Needs, scope: ModuleScope): void {
  const relay = new FramesRelay(cluster.nats, hub, {
    node: cluster.config.node,
    holds: (camera) => cluster.leases.holds(camera),
    cameras: () => sourceSet.ids,
    log,
  });
  relay.start();
  // registered before the hub's own stop runs (newest first): the relay lets go of it first
  scope.onStop(() => relay.stop());
}

/** The file_sd now, then every couple of heartbeats (written only when it changed). */
function keepFileSd(view: ClusterView, path: string, heartbeatMs: number, log: Logger, scope: ModuleScope) {
  const writer = new FileSdWriter(path);
  let failing = false;
  const refresh = async () => {
    try {
      if (writer.write(fileSdGroups((await view.overview()).nodes)))
        log.debug({ path }, 'prometheus file_sd written');
      failing = false;
    } catch (e) {
      if (!failing) log.warn({ path, err: (e as Error).message }, 'cannot refresh the prometheus file_sd');
      failing = true;
    }
  };
  void refresh();
  const timer = setInterval(() => void refresh(), Math.max(1000, heartbeatMs * 2));
  scope.onStop(() => clearInterval(timer));
}

/**
 * The viewers' stream statuses say which node runs each camera; a camera another node runs is
 * `remote` (this node's source is only suspended). Re-sent when a camera's holder changes, from
 * the lease manager's view of its last round (no I/O).
 */
function showHolders({ cluster, sources, hub }: Needs & { cluster: ClusterNode }, scope: ModuleScope): void {
  const self = cluster.config.node;
  const holderOf = (camera: string): string | null =>
    cluster.leases.holds(camera) ? self : (cluster.leases.owners.get(camera) ?? null);
  scope.onStop(
    hub.setStatusView((s) => {
      const node = holderOf(s.id);
      if (node === self) return { ...s, node };
      return node && s.state === 'stopped' ? { ...s, state: 'remote', node } : s;
    }),
  );
  const shown = new Map<string, string | null>();
  const timer = setInterval(() => {
    for (const src of sources) {
      const node = holderOf(src.id);
      if (shown.get(src.id) === node) continue;
      shown.set(src.id, node);
      if (node !== self) hub.broadcast({ type: 'status', status: src.status });
    }
  }, cluster.config.heartbeatMs);
  scope.onStop(() => clearInterval(timer));
}
