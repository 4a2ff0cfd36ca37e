/**
 * Cluster mode: the cameras are the cluster's (PostgreSQL `cluster_cameras`, src/cluster/cameras-pg.ts),
 * seeded from the config file's streams at the cluster's first start. Before the streams start,
 * this node's sources become the table's cameras; afterwards they follow its changes (API, CLI)
 * without a restart (src/cluster/cameras-follow.ts), and the lease rounds place each camera.
 * The embedded single node: nothing (its streams are the config file's).
 */
import { CameraFollower } from '../../cluster/cameras-follow.js';
import { PgCameras } from '../../cluster/cameras-pg.js';
import { defineModule } from '../module.js';
import type { BaseContext } from './base.js';
import type { ClusterContext } from './cluster.js';
import type { SourcesContext } from './sources.js';

export interface ClusterCamerasContext {
  /** The cluster's camera table (the API's /api/cluster/cameras); undefined on the single node. */
  readonly clusterCameras: PgCameras | undefined;
}

export const clusterCamerasModule = defineModule<
  BaseContext & SourcesContext & ClusterContext,
  ClusterCamerasContext
>({
  name: 'cluster cameras',
  start: async ({ config, log, sourceSet, cluster }, scope) => {
    if (!cluster) return { clusterCameras: undefined };
    const store = new PgCameras(cluster.pool);
    const follower = new CameraFollower(store, sourceSet, cluster.config, log);
    await follower.start(config.streams);
    scope.onStop(() => follower.stop());
    return { clusterCameras: store };
  },
});
