/**
 * The cluster settings in force: the `cluster` key of the config file, else the environment
 * (VIGIL_CLUSTER_NATS, VIGIL_CLUSTER_POSTGRES, VIGIL_NODE, VIGIL_MAX_CAMERAS, VIGIL_ADVERTISE_URL,
 * VIGIL_PROMETHEUS_FILE_SD), which is how the compose file and the Kubernetes manifest give each
 * node its name; over a file's key, the per-node ones (node, URL, file_sd path) still apply. Undefined: the embedded single
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
  prometheusFileSd: 'VIGIL_PROMETHEUS_FILE_SD',
};

export function resolveCluster(
  fromFile: ClusterConfig | undefined,
  env: NodeJS.ProcessEnv = process.env,
): ClusterConfig | undefined {
  // the file says where the cluster is; each replica of one Deployment says who and where it is
  // (one ConfigMap for every replica): its name, URL and file_sd path from the environment win
  if (fromFile) {
    const own = {
      ...(env.VIGIL_NODE ? { node: env.VIGIL_NODE } : {}),
      ...(env.VIGIL_ADVERTISE_URL ? { advertiseUrl: env.VIGIL_ADVERTISE_URL } : {}),
      ...(env.VIGIL_PROMETHEUS_FILE_SD ? { prometheusFileSd: env.VIGIL_PROMETHEUS_FILE_SD } : {}),
    };
    return Object.keys(own).length ? parseCluster({ ...fromFile, ...own }) : fromFile;
  }
  if (!env.VIGIL_CLUSTER_NATS && !env.VIGIL_CLUSTER_POSTGRES) return undefined;
  const raw: Record<string, unknown> = {
    nats: env.VIGIL_CLUSTER_NATS,
    postgres: env.VIGIL_CLUSTER_POSTGRES,
    node: env.VIGIL_NODE,
  };
  if (env.VIGIL_MAX_CAMERAS !== undefined) raw.maxCameras = Number(env.VIGIL_MAX_CAMERAS);
  if (env.VIGIL_ADVERTISE_URL !== undefined) raw.advertiseUrl = env.VIGIL_ADVERTISE_URL;
  if (env.VIGIL_PROMETHEUS_FILE_SD !== undefined) raw.prometheusFileSd = env.VIGIL_PROMETHEUS_FILE_SD;
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
