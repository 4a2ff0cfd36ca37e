/**
 * The whole cluster, from any node (cluster mode, docs/cluster.md "One UI"):
 *   GET /api/cluster   the nodes (capacity, cameras held, drop rate, URL, alive) and every camera
 *                      with the node holding its lease
 * The cluster view starts after the HTTP server (the lease buckets need NATS): the routes read it
 * through a slot the cluster-ui module fills, and answer 409 on the embedded single node.
 */
import { ClusterOverview } from '../defs/cluster.js';
import { HttpError } from './api-body.js';
import { type Route, route } from './api-router.js';

/** What the cluster-ui module (src/app/modules/cluster-ui.ts) gives the API. */
export interface ClusterApi {
  overview(): Promise<ClusterOverview>;
  /** Every camera of the cluster with its node (GET /api/streams in cluster mode). */
  streams(): Promise<unknown[]>;
}

/** Filled once the cluster view is up; empty on the embedded single node. */
export interface ClusterApiSlot {
  current: ClusterApi | undefined;
}

export function createClusterRoutes(d: { cluster: () => ClusterApi | undefined }): Route[] {
  return [
    route(
      'GET',
      {
        path: '/api/cluster',
        summary: 'The nodes of the cluster and the node holding each camera (cluster mode)',
        ok: [
          200,
          {
            description: 'this node, every node with its health, every camera with its node',
            json: ClusterOverview,
          },
        ],
        errors: { 409: 'not in cluster mode', 503: 'NATS cannot be read now' },
      },
      async () => {
        const c = d.cluster();
        if (!c)
          throw new HttpError(409, 'not in cluster mode: set cluster (or VIGIL_CLUSTER_NATS) in the config');
        try {
          return { status: 200, json: await c.overview() };
        } catch (e) {
          throw new HttpError(503, `cannot read the cluster state from NATS: ${(e as Error).message}`);
        }
      },
    ),
  ];
}
