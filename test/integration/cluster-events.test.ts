/**
 * Alerts through JetStream into PostgreSQL (src/cluster/events-stream.ts) with real servers: two
 * nodes share the durable consumer; every event is published twice (a retried publish), NATS is
 * SIGKILLed and restarted while events are raised, PostgreSQL crashes while they are stored: in the
 * end each event is stored once and delivered once, none lost.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import type pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { connectPostgres } from '../../src/cluster/connect.js';
import {
  EventPublisher,
  EventStore,
  ensureEventsStream,
  migrateEvents,
} from '../../src/cluster/events-stream.js';
import { ClusterSchema } from '../../src/config/schema.js';
import type { ClusterEvent } from '../../src/defs/cluster.js';
import { until } from '../helpers/mosquitto.js';
import { natsMissing, type NatsServer, startNats } from '../helpers/nats.js';
import { postgresMissing, type PostgresServer, startPostgres } from '../helpers/postgres.js';
import { skipUnless } from '../helpers/requirements.js';

const why = natsMissing() ?? postgresMissing();
const retry = { initialMs: 100, maxMs: 1000 };
const log = pino({ level: 'silent' });

describe.skipIf(skipUnless(why, 'cluster events'))('alerts over JetStream, stored in PostgreSQL', () => {
  let nats: NatsServer | undefined;
  let pgServer: PostgresServer | undefined;
  const conns: NatsConnection[] = [];
  const pools: pg.Pool[] = [];
  const stores: EventStore[] = [];
  afterAll(async () => {
    for (const s of stores) await s.stop();
    for (const c of conns) await c.close().catch(() => undefined);
    for (const p of pools) await p.end().catch(() => undefined);
    await nats?.stop();
    await pgServer?.stop();
  });

  it('stores and delivers every alert exactly once across a NATS restart and a PostgreSQL crash', async () => {
    nats = await startNats();
    pgServer = await startPostgres();
    const url = await pgServer.createDatabase('events');
    const delivered: Array<{ node: string; id: string }> = [];
    const node = async (name: string) => {
      const nc = await connect({ servers: nats?.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
      conns.push(nc);
      const cfg = ClusterSchema.parse({ nats: nats?.url, postgres: url, node: name, retry });
      const pool = await connectPostgres(cfg, log);
      pools.push(pool);
      await ensureEventsStream(nc);
      await migrateEvents(pool);
      const store = new EventStore(
        nc,
        pool,
        name,
        async (e) => void delivered.push({ node: name, id: e.id }),
        log,
      );
      stores.push(store);
      store.start();
      return { nc, pool, publisher: new EventPublisher(nc, retry, log) };
    };
    const a = await node('a');
    const b = await node('b');
    let n = 0;
    const raise = (p: EventPublisher) => {
      const e: ClusterEvent = {
        id: `alert-${++n}`,
        kind: n % 3 ? 'alert' : 'unknown',
        camera: `cam${n % 6}`,
        node: 'a',
        leaseRevision: n,
        at: Date.now(),
        payload: { person: 'Ada', n },
      };
      p.publish(e);
      p.publish(e); // the retry of an at-least-once publisher: dropped by Nats-Msg-Id
    };
    for (let i = 0; i < 20; i++) raise(i % 2 ? a.publisher : b.publisher);
    await until(() => delivered.length >= 20, '20 alerts delivered', 15_000);

    await nats.kill();
    for (let i = 0; i < 10; i++) raise(a.publisher); // raised while NATS is down
    expect(a.publisher.pending).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 1000));
    await nats.start();
    await until(() => delivered.length >= 30, '30 alerts after the NATS restart', 30_000);

    await pgServer.kill();
    for (let i = 0; i < 10; i++) raise(b.publisher); // stored once PostgreSQL is back
    await new Promise((r) => setTimeout(r, 1500));
    await pgServer.start();
    await until(() => delivered.length >= 40, '40 alerts after the PostgreSQL restart', 30_000);
    await new Promise((r) => setTimeout(r, 1500)); // room for a duplicate to show up

    const ids = delivered.map((d) => d.id);
    expect(ids.length).toBe(40);
    expect(new Set(ids).size).toBe(40);
    const rows = await a.pool.query(
      'SELECT count(*)::int AS n, count(delivered_at)::int AS d FROM cluster_events',
    );
    expect(rows.rows[0]).toEqual({ n: 40, d: 40 });
    console.log(
      `events delivered by node: a ${delivered.filter((d) => d.node === 'a').length}, b ${delivered.filter((d) => d.node === 'b').length}`,
    );
  }, 120_000);
});
