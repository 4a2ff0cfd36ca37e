/**
 * LISTEN on a PostgreSQL channel on a connection of its own (a pool's clients come and go), kept
 * up: a lost connection is logged and reconnected with backoff, then `onReconnect` runs so the
 * follower catches up on what changed while it was away (NOTIFYs are not queued for the absent).
 */
import pg from 'pg';
import type { ClusterConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { redactUrlsIn } from '../util/redact-url.js';
import { withBackoff } from './backoff.js';

export interface Listening {
  stop(): Promise<void>;
}

export async function listenChannel(
  cfg: ClusterConfig,
  channel: string,
  log: Logger,
  on: { notify: (payload: string | undefined) => void; reconnected: () => void },
): Promise<Listening> {
  const abort = new AbortController();
  let client: pg.Client | undefined;
  const connect = async (): Promise<void> => {
    const c = await withBackoff(
      `PostgreSQL (cluster.postgres) for LISTEN ${channel}`,
      cfg.postgres,
      cfg.retry,
      async () => {
        const c = new pg.Client({
          connectionString: cfg.postgres,
          application_name: `vigil-${cfg.node}-${channel}`,
        });
        c.on('error', () => undefined); // handled by 'end' below
        try {
          await c.connect();
          await c.query(`LISTEN ${channel}`);
        } catch (e) {
          await c.end().catch(() => undefined);
          throw e;
        }
        return c;
      },
      (message) => log.error({ key: 'cluster.postgres' }, message),
      abort.signal,
    );
    client = c;
    c.on('notification', (n) => on.notify(n.payload));
    c.once('end', () => {
      client = undefined;
      if (abort.signal.aborted) return;
      log.warn(
        { postgres: redactUrlsIn(cfg.postgres), channel },
        'cluster: LISTEN connection lost, reconnecting',
      );
      connect()
        .then(() => on.reconnected())
        .catch(() => undefined); // stopped while reconnecting
    });
  };
  await connect();
  return {
    stop: async () => {
      abort.abort();
      await client?.end().catch(() => undefined);
    },
  };
}
