/**
 * The cluster test harness itself: a real nats-server with JetStream and a real PostgreSQL 15 start
 * on free ports (as `nobody` when the tests run as root), and what they store survives a crash and
 * restart on the same port, which the failure tests of cluster mode rely on.
 */
import { connect } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { natsMissing, startNats, type NatsServer } from '../helpers/nats.js';
import { postgresMissing, startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { skipUnless } from '../helpers/requirements.js';

describe.skipIf(skipUnless(natsMissing(), 'nats-server harness'))('nats-server harness', () => {
  let server: NatsServer | undefined;
  afterAll(() => server?.stop());

  it('keeps a JetStream KV value across a SIGKILL and restart on the same port', async () => {
    server = await startNats();
    const nc = await connect({ servers: server.url, reconnectTimeWait: 100, maxReconnectAttempts: -1 });
    const kv = await new Kvm(jetstream(nc, { timeout: 1000 })).create('harness', { history: 1 });
    const rev = await kv.put('k', 'v1');
    await server.kill();
    await server.start();
    // the same client reconnects by itself; the value and its revision are still there. The first
    // request after the restart may time out (sent before JetStream answers again): retried, as
    // src/cluster does
    let e = null;
    for (let attempt = 0; attempt < 10 && !e; attempt++) e = await kv.get('k').catch(() => null);
    expect(e?.string()).toBe('v1');
    expect(e?.revision).toBe(rev);
    await nc.close();
  }, 30_000);
});

describe.skipIf(skipUnless(postgresMissing(), 'postgresql harness'))('postgresql harness', () => {
  let server: PostgresServer | undefined;
  afterAll(() => server?.stop());

  it('creates a database and keeps its rows across a crash (SIGKILL) and restart', async () => {
    server = await startPostgres();
    const url = await server.createDatabase('harness');
    const c1 = new pg.Client({ connectionString: url });
    await c1.connect();
    await c1.query('CREATE TABLE t (v text)');
    await c1.query("INSERT INTO t VALUES ('kept')");
    await c1.end();
    await server.kill();
    await server.start();
    const c2 = new pg.Client({ connectionString: url });
    await c2.connect();
    const r = await c2.query('SELECT v FROM t');
    expect(r.rows).toEqual([{ v: 'kept' }]);
    const who = await c2.query('SELECT current_user AS u');
    expect(who.rows[0].u).toBe('vigil');
    await c2.end();
  }, 60_000);
});
