/**
 * The cluster settings in force: the `cluster` key of the config file, else the environment
 * (VIGIL_CLUSTER_NATS, VIGIL_CLUSTER_POSTGRES, VIGIL_NODE, VIGIL_MAX_CAMERAS, VIGIL_ADVERTISE_URL), which is how the
 * compose file and the Kubernetes manifest give each node its name. Undefined: the embedded single
 * node. A bad value names the key or the variable it came from.
 */
import { formatIssues } from '../config/load.js';
import { type ClusterConfig, ClusterSchema } from '../config/schema.js';
import { StartupError } from '../util/startup-errors.js';

const ENV_KEYS: Record<string, string> = {
  nats: 'VIGIL_CLUSTER_NATS',
  postgres: 'VIGIL_CLUSTER_POSTGRES',
  node: 'VIGIL_NODE',
  maxCameras: 'VIGIL_MAX_CAMERAS',
  advertiseUrl: 'VIGIL_ADVERTISE_URL',
};

export function resolveCluster(
  fromFile: ClusterConfig | undefined,
  env: NodeJS.ProcessEnv = process.env,
): ClusterConfig | undefined {
  // the file says where the cluster is; each replica of one Deployment says where it is
  if (fromFile)
    return env.VIGIL_ADVERTISE_URL && !fromFile.advertiseUrl
      ? parseCluster({ ...fromFile, advertiseUrl: env.VIGIL_ADVERTISE_URL })
      : fromFile;
  if (!env.VIGIL_CLUSTER_NATS && !env.VIGIL_CLUSTER_POSTGRES) return undefined;
  const raw: Record<string, unknown> = {
    nats: env.VIGIL_CLUSTER_NATS,
    postgres: env.VIGIL_CLUSTER_POSTGRES,
    node: env.VIGIL_NODE,
  };
  if (env.VIGIL_MAX_CAMERAS !== undefined) raw.maxCameras = Number(env.VIGIL_MAX_CAMERAS);
  if (env.VIGIL_ADVERTISE_URL !== undefined) raw.advertiseUrl = env.VIGIL_ADVERTISE_URL;
  return parseCluster(raw);
}

function parseCluster(raw: Record<string, unknown>): ClusterConfig {
  const r = ClusterSchema.safeParse(raw);
  if (r.success) return r.data;
  // "node: must be ..." -> "VIGIL_NODE (cluster.node): must be ..."
  const problems = formatIssues(r.error).map((line) => {
    const key = line.slice(0, line.indexOf(':'));
    const variable = ENV_KEYS[key];
    return variable ? `${variable} (cluster.${key})${line.slice(key.length)}` : `cluster.${line}`;
  });
  throw new StartupError(`cluster mode from the environment: ${problems.join('; ')}`, 'cluster', '');
}
