/**
 * Two real Vigil services in cluster mode (passthrough pipeline, lavfi cameras) against a real
 * nats-server and PostgreSQL: each camera runs (ffmpeg live) on exactly one node, the cameras are
 * shared, and stopping a node hands its cameras to the other at once. Plus: cluster mode with an
 * unreachable NATS keeps retrying (naming the URL) instead of starting as a single node.
 */
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { Vigil } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';
import { capturingLogger } from '../helpers/log-capture.js';
import { until } from '../helpers/mosquitto.js';
import { natsMissing, type NatsServer, startNats } from '../helpers/nats.js';
import { postgresMissing, type PostgresServer, startPostgres } from '../helpers/postgres.js';
import { skipUnless } from '../helpers/requirements.js';
import { freePort } from '../helpers/rtsp-server.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const why = natsMissing() ?? postgresMissing();
const CAMERAS = ['cam1', 'cam2', 'cam3', 'cam4'];

const nodeConfig = (node: string, nats: string, postgres: string) =>
  validateConfig({
    server: { host: '127.0.0.1', port: 0 },
    log: { level: 'silent' },
    pipeline: 'passthrough',
    dataDir: mkdtempSync(join(tmpdir(), `vigil-${node}-`)),
    cluster: { nats, postgres, node, retry: { initialMs: 100, maxMs: 1000 } },
    streams: CAMERAS.map((id) => ({ id, lavfi: 'testsrc2=size=64x64:rate=5', width: 64, height: 64 })),
  });

const live = (v: Vigil) => v.context.sources.filter((s) => s.status.state === 'live').map((s) => s.id);

describe.skipIf(skipUnless(why, 'cluster nodes'))('Vigil nodes in cluster mode', () => {
  let nats: NatsServer | undefined;
  let pg: PostgresServer | undefined;
  const running: Vigil[] = [];
  afterAll(async () => {
    for (const v of running) await v.stop();
    await nats?.stop();
    await pg?.stop();
  });

  it('runs each camera on one node and hands them over when a node stops', async () => {
    nats = await startNats();
    pg = await startPostgres();
    const url = await pg.createDatabase('nodes');
    const a = await Vigil.start(nodeConfig('a', nats.url, url), { logger: pino({ level: 'silent' }) });
    running.push(a);
    const b = await Vigil.start(nodeConfig('b', nats.url, url), { logger: pino({ level: 'silent' }) });
    running.push(b);
    await until(
      () => live(a).length === 2 && live(b).length === 2,
      'two cameras live on each node',
      30_000,
    ).catch((e) => {
      throw new Error(
        `${e.message}: a ${JSON.stringify(a.context.sources.map((s) => s.status))} b ${JSON.stringify(b.context.sources.map((s) => s.status))} a holds ${[...(a.context.cluster?.leases.running() ?? [])]}`,
      );
    });
    expect(new Set([...live(a), ...live(b)])).toEqual(new Set(CAMERAS));
    const stoppedAt = Date.now();
    await a.stop();
    running.splice(running.indexOf(a), 1);
    await until(() => live(b).length === 4, 'all four cameras live on b', 20_000);
    console.log(`graceful stop of node a: its 2 cameras live on b after ${Date.now() - stoppedAt} ms`);
  }, 90_000);

  it('with NATS unreachable, keeps retrying naming the URL', async () => {
    const port = await freePort();
    const { logger, lines } = capturingLogger();
    const starting = Vigil.start(nodeConfig('c', `nats://127.0.0.1:${port}`, 'postgres://x@127.0.0.1:1/y'), {
      logger,
    });
    await until(
      () => lines.filter((l) => l.msg.startsWith('cannot reach NATS')).length >= 3,
      'retries',
      15_000,
    );
    expect(lines.find((l) => l.msg.startsWith('cannot reach NATS'))?.msg).toContain(
      `nats://127.0.0.1:${port}`,
    );
    const late = await startNats({ port });
    // NATS up: it goes on to PostgreSQL, unreachable too, and says so
    await until(
      () => lines.some((l) => l.msg.startsWith('cannot reach PostgreSQL (cluster.postgres) at postgres://')),
      'PG retries',
      15_000,
    );
    await late.stop();
    void starting.catch(() => undefined);
  }, 60_000);
});
