/**
 * The two connections of a cluster node. Each is retried with backoff until it answers (a node may
 * start before its broker or database), every failure logged with the URL and the config key, and
 * once up each reconnects by itself: the NATS client forever, the PostgreSQL pool on its next
 * query; an idle pooled client dropped by a database restart is logged, not thrown (an unhandled
 * 'error' would end the process).
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import pg from 'pg';
import type { ClusterConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { redactUrlsIn } from '../util/redact-url.js';
import { withBackoff } from './backoff.js';

export async function connectNats(
  cfg: ClusterConfig,
  log: Logger,
  signal?: AbortSignal,
): Promise<NatsConnection> {
  const nc = await withBackoff(
    'NATS (cluster.nats)',
    cfg.nats,
    cfg.retry,
    () =>
      connect({
        servers: cfg.nats,
        name: `vigil-${cfg.node}`,
        timeout: 2000,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        pingInterval: 2000,
        maxPingOut: 2,
      }),
    (message) => log.error({ key: 'cluster.nats' }, message),
    signal,
  );
  log.info({ nats: redactUrlsIn(cfg.nats), node: cfg.node }, 'cluster: connected to NATS');
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') log.warn({ nats: redactUrlsIn(cfg.nats) }, 'cluster: NATS disconnected');
      else if (s.type === 'reconnect')
        log.info({ nats: redactUrlsIn(cfg.nats) }, 'cluster: NATS reconnected');
    }
  })();
  return nc;
}

export async function connectPostgres(
  cfg: ClusterConfig,
  log: Logger,
  signal?: AbortSignal,
): Promise<pg.Pool> {
  const pool = new pg.Pool({
    connectionString: cfg.postgres,
    max: 8,
    connectionTimeoutMillis: 3000,
    application_name: `vigil-${cfg.node}`,
  });
  pool.on('error', (e) =>
    log.warn({ postgres: redactUrlsIn(cfg.postgres), err: e.message }, 'cluster: PostgreSQL connection lost'),
  );
  try {
    await withBackoff(
      'PostgreSQL (cluster.postgres)',
      cfg.postgres,
      cfg.retry,
      () => pool.query('SELECT 1'),
      (message) => log.error({ key: 'cluster.postgres' }, message),
      signal,
    );
  } catch (e) {
    await pool.end();
    throw e;
  }
  log.info({ postgres: redactUrlsIn(cfg.postgres), node: cfg.node }, 'cluster: connected to PostgreSQL');
  return pool;
}
