/**
 * Cluster mode's start-up: a malformed `cluster` key (or environment variable) fails naming it;
 * an unreachable NATS or PostgreSQL is logged naming the URL (password hidden) and the config key,
 * retried with growing delays, and connected to as soon as it comes up on that address.
 */
import { describe, expect, it } from 'vitest';
import { connectNats, connectPostgres } from '../../src/cluster/connect.js';
import { resolveCluster } from '../../src/cluster/config.js';
import { validateConfig } from '../../src/config/load.js';
import { ClusterSchema } from '../../src/config/schema.js';
import { capturingLogger } from '../helpers/log-capture.js';
import { natsMissing, startNats } from '../helpers/nats.js';
import { postgresMissing, startPostgres } from '../helpers/postgres.js';
import { skipUnless } from '../helpers/requirements.js';
import { freePort } from '../helpers/rtsp-server.js';
import { until } from '../helpers/mosquitto.js';

const streams = [{ id: 'cam1', lavfi: 'testsrc2=size=64x64:rate=5' }];

describe('cluster config', () => {
  it('names each malformed key of cluster at start-up', () => {
    const bad = {
      nats: 'http://broker:4222',
      postgres: 'mysql://db',
      node: 'node one',
      maxCameras: -1,
      extra: 1,
    };
    let message = '';
    try {
      validateConfig({ cluster: bad, streams });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain('cluster.nats: a nats:// URL');
    expect(message).toContain('cluster.postgres: a postgres:// URL');
    expect(message).toContain('cluster.node: must be 1-64 letters');
    expect(message).toContain('cluster.maxCameras');
    expect(message).toContain('cluster.extra: unknown key');
  });

  it('refuses a heartbeat too slow for its lease TTL, naming heartbeatMs', () => {
    expect(() =>
      validateConfig({
        cluster: {
          nats: 'nats://n:4222',
          postgres: 'postgres://db/v',
          node: 'a',
          leaseTtlMs: 3000,
          heartbeatMs: 2000,
        },
        streams,
      }),
    ).toThrow(/cluster\.heartbeatMs: must be at most a third of leaseTtlMs \(3000\)/);
  });

  it('takes cluster mode from the environment, naming the variable of a bad value', () => {
    expect(resolveCluster(undefined, {})).toBeUndefined();
    const ok = resolveCluster(undefined, {
      VIGIL_CLUSTER_NATS: 'nats://nats:4222',
      VIGIL_CLUSTER_POSTGRES: 'postgres://vigil@pg/vigil',
      VIGIL_NODE: 'node-2',
      VIGIL_MAX_CAMERAS: '3',
    });
    expect(ok).toMatchObject({ node: 'node-2', maxCameras: 3, leaseTtlMs: 4000 });
    expect(() =>
      resolveCluster(undefined, {
        VIGIL_CLUSTER_NATS: 'nats://nats:4222',
        VIGIL_CLUSTER_POSTGRES: 'postgres://pg/v',
      }),
    ).toThrow(/VIGIL_NODE \(cluster\.node\)/);
  });

  it('takes the advertised URL (and a replica its name) from the file or the environment, naming it when malformed', () => {
    const env = {
      VIGIL_CLUSTER_NATS: 'nats://nats:4222',
      VIGIL_CLUSTER_POSTGRES: 'postgres://pg/v',
      VIGIL_NODE: 'n1',
    };
    expect(resolveCluster(undefined, { ...env, VIGIL_ADVERTISE_URL: 'http://n1:8080' })?.advertiseUrl).toBe(
      'http://n1:8080',
    );
    expect(() => resolveCluster(undefined, { ...env, VIGIL_ADVERTISE_URL: 'n1:8080' })).toThrow(
      /VIGIL_ADVERTISE_URL \(cluster\.advertiseUrl\): an http:\/\/ URL/,
    );
    // one config file for every replica, each told where it is by its environment
    const file = ClusterSchema.parse({ nats: 'nats://nats:4222', postgres: 'postgres://pg/v', node: 'n1' });
    expect(resolveCluster(file, { VIGIL_ADVERTISE_URL: 'http://10.0.0.7:8080' })?.advertiseUrl).toBe(
      'http://10.0.0.7:8080',
    );
    // the replica's own variables win over the shared file: its name, URL and file_sd path
    const own = resolveCluster(
      { ...file, advertiseUrl: 'http://a:1' },
      { VIGIL_ADVERTISE_URL: 'http://b:2', VIGIL_NODE: 'pod-7', VIGIL_PROMETHEUS_FILE_SD: '/sd/n.json' },
    );
    expect([own?.advertiseUrl, own?.node, own?.prometheusFileSd]).toEqual(['http://b:2', 'pod-7', '/sd/n.json']);
    expect(() => resolveCluster(file, { VIGIL_NODE: 'bad name' })).toThrow(/VIGIL_NODE \(cluster\.node\)/);
    expect(resolveCluster(file, {})).toBe(file);
    expect(resolveCluster(file, {})?.advertiseUrl).toBeUndefined();
  });
});

const retry = { initialMs: 100, maxMs: 800 };

describe.skipIf(skipUnless(natsMissing(), 'cluster start-up against nats-server'))('unreachable NATS', () => {
  it('logs the URL and retries with backoff until the broker comes up', async () => {
    const port = await freePort();
    const url = `nats://127.0.0.1:${port}`;
    const { logger, lines } = capturingLogger();
    const cfg = ClusterSchema.parse({ nats: url, postgres: 'postgres://x/y', node: 'n1', retry });
    const connecting = connectNats(cfg, logger);
    const failures = () => lines.filter((l) => l.msg.startsWith('cannot reach NATS'));
    await until(() => failures().length >= 4, 'four failed NATS attempts', 15_000);
    const first = failures()[0];
    expect(first?.msg).toContain(`cannot reach NATS (cluster.nats) at ${url}`);
    expect(first?.key).toBe('cluster.nats');
    const delays = failures().map((l) => Number(/retrying in (\d+) ms/.exec(l.msg)?.[1]));
    expect(delays[3]).toBeGreaterThan(delays[0] as number); // backoff grows
    const server = await startNats({ port });
    try {
      const nc = await connecting;
      expect(nc.isClosed()).toBe(false);
      await nc.close();
    } finally {
      await server.stop();
    }
  }, 40_000);
});

describe.skipIf(skipUnless(postgresMissing(), 'cluster start-up against PostgreSQL'))(
  'unreachable PostgreSQL',
  () => {
    it('logs the URL without its password and retries until the database comes up', async () => {
      const port = await freePort();
      const url = `postgres://vigil:secretpw@127.0.0.1:${port}/postgres`;
      const { logger, lines } = capturingLogger();
      const cfg = ClusterSchema.parse({ nats: 'nats://x:1', postgres: url, node: 'n1', retry });
      const connecting = connectPostgres(cfg, logger);
      const failures = () => lines.filter((l) => l.msg.startsWith('cannot reach PostgreSQL'));
      await until(() => failures().length >= 3, 'three failed PostgreSQL attempts', 15_000);
      expect(failures()[0]?.msg).toContain(
        `cannot reach PostgreSQL (cluster.postgres) at postgres://***@127.0.0.1:${port}/postgres`,
      );
      expect(JSON.stringify(lines)).not.toContain('secretpw');
      const server = await startPostgres({ port });
      try {
        const pool = await connecting;
        expect((await pool.query('SELECT 1 AS one')).rows[0].one).toBe(1);
        await pool.end();
      } finally {
        await server.stop();
      }
    }, 60_000);
  },
);
