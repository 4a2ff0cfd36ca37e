/**
 * What Vigil makes of an environment, and which of its variables it actually reads: the resolve*
 * functions that start-up calls (src/cluster/config.ts, src/server/auth.ts,
 * src/output/sinks/config.ts) are run on a Proxy of the environment that records every name they
 * look up. A deployment file that sets a VIGIL_ variable none of them reads (a typo, a removed
 * setting) is wrong, and so is a value they refuse.
 */
import { readFileSync } from 'node:fs';
import { resolveCluster } from '../../src/cluster/config.js';
import { type ClusterConfig, ClusterSchema, type VigilConfig } from '../../src/config/schema.js';
import { resolveMqtt } from '../../src/output/sinks/config.js';
import { resolveAuth } from '../../src/server/auth.js';

/** Variables of Node itself a deployment may set besides Vigil's. */
export const NODE_VARIABLES = ['NODE_ENV', 'NODE_OPTIONS', 'TZ', 'UV_THREADPOOL_SIZE'];

/**
 * Set by the deployment files for cluster settings other parts of #15 add (variable -> key of
 * ClusterSchema): accepted only while the schema has no such key; once it has, the resolvers
 * must read the variable like any other (so a setting that has no variable yet fails here).
 */
export const PENDING_VARIABLES: Record<string, string> = {
  VIGIL_PROMETHEUS_FILE_SD: 'prometheusFileSd', // Vigil writes the live nodes' file_sd targets there
  VIGIL_ADVERTISE_URL: 'advertiseUrl', // where Prometheus and the other nodes reach this node
};

/** True while the cluster settings have no key for a pending variable. */
export function stillPending(name: string): boolean {
  const key = PENDING_VARIABLES[name];
  return key !== undefined && !(key in ClusterSchema.shape);
}

export interface VigilEnvResult {
  cluster: ClusterConfig | undefined;
  auth: VigilConfig['server']['auth'];
  mqtt: ReturnType<typeof resolveMqtt>;
  /** The variables the resolvers looked up. */
  read: Set<string>;
}

/** The settings `config` gets under `env` (throws what start-up would throw), and what was read. */
export function resolveVigilEnv(config: VigilConfig, env: Record<string, string>): VigilEnvResult {
  const read = new Set<string>();
  const tracked = new Proxy(env, {
    get(target, name) {
      if (typeof name === 'string') read.add(name);
      return Reflect.get(target, name);
    },
  }) as NodeJS.ProcessEnv;
  return {
    cluster: resolveCluster(config.cluster, tracked),
    auth: resolveAuth(config.server.auth, tracked),
    mqtt: resolveMqtt(config.mqtt, tracked),
    read,
  };
}

/**
 * The variables of `env` that Vigil does not read: VIGIL_ names none of the resolvers looked up
 * (pending ones excepted, see PENDING_VARIABLES) and names that are neither Vigil's nor Node's
 * nor in `alsoAllowed` (e.g. a Kubernetes variable that only feeds another's `$(NAME)`). Empty
 * when all is well.
 */
export function unreadVariables(
  env: Record<string, string>,
  read: Set<string>,
  alsoAllowed: readonly string[] = [],
): string[] {
  return Object.keys(env).filter((name) => {
    if (NODE_VARIABLES.includes(name) || alsoAllowed.includes(name)) return false;
    if (!name.startsWith('VIGIL_')) return true;
    return !read.has(name) && !stillPending(name);
  });
}

/** How long Vigil waits after SIGTERM before it forces its exit (src/cli.ts), in ms. */
export function forcedExitMs(): number {
  const m = /process\.exit\(1\), ([\d_]+)\)/.exec(readFileSync('src/cli.ts', 'utf8'));
  return Number(m?.[1]?.replace(/_/g, '') ?? Number.NaN);
}
