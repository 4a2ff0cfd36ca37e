/**
 * The cluster's cameras in PostgreSQL (src/cluster/cameras-pg.ts, cameras-follow.ts), with two
 * real Vigil nodes (passthrough pipeline, lavfi cameras) on a real nats-server and PostgreSQL:
 * seeded from the first node's config file and never again; a camera PUT through node A's API
 * goes live on one node within seconds, a changed one restarts with its new config, a deleted one
 * stops and its lease is given back; a bad body is a 400 naming the key and changes nothing; a bad
 * row is logged naming the camera and skipped; the CLI (dist/cli.js) lists, adds and removes
 * cameras in the same database.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Vigil } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';
import { capturingLogger } from '../helpers/log-capture.js';
import { until } from '../helpers/mosquitto.js';
import { natsMissing, type NatsServer, startNats } from '../helpers/nats.js';
import { postgresMissing, type PostgresServer, startPostgres } from '../helpers/postgres.js';
import { skipUnless } from '../helpers/requirements.js';
import { TestViewer } from '../helpers/ws-client.js';

const why = natsMissing() ?? postgresMissing();
const CLI = join(process.cwd(), 'dist', 'cli.js');
const TOKEN = 'cluster-cameras-token-01';
const ADMIN = 'cluster-cameras-admin-01';
const lavfi = (id: string) => ({ id, lavfi: 'testsrc2=size=64x64:rate=5', width: 64, height: 64 });

const nodeConfig = (node: string, nats: string, postgres: string, streams: string[], auth = {}) =>
  validateConfig({
    server: { host: '127.0.0.1', port: 0, auth },
    log: { level: 'silent' },
    pipeline: 'passthrough',
    dataDir: mkdtempSync(join(tmpdir(), `vigil-${node}-`)),
    cluster: { nats, postgres, node, retry: { initialMs: 100, maxMs: 1000 } },
    streams: streams.map(lavfi),
  });

const live = (v: Vigil) => v.context.sources.filter((s) => s.status.state === 'live').map((s) => s.id);
const ids = (v: Vigil) => v.context.sources.map((s) => s.id).sort();

describe.skipIf(skipUnless(why, 'cluster cameras'))("the cluster's cameras in PostgreSQL", () => {
  let nats: NatsServer;
  let pgServer: PostgresServer;
  let url: string;
  let db: pg.Pool;
  let a: Vigil;
  let b: Vigil;
  const bLog = capturingLogger('info');
  const base = () => `http://127.0.0.1:${a.address.port}/api/cluster/cameras`;
  const put = (id: string, body: unknown, token = ADMIN) =>
    fetch(`${base()}/${id}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const rows = async () =>
    (await db.query('SELECT id, config FROM cluster_cameras ORDER BY id')).rows as Array<{
      id: string;
      config: Record<string, unknown>;
    }>;
  const both = () => [...live(a), ...live(b)];
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, [CLI, 'cluster', 'cameras', ...args, '--postgres', url], {
      encoding: 'utf8',
    });

  beforeAll(async () => {
    nats = await startNats();
    pgServer = await startPostgres();
    url = await pgServer.createDatabase('cameras');
    db = new pg.Pool({ connectionString: url, max: 2 });
    const silent = pino({ level: 'silent' });
    a = await Vigil.start(
      nodeConfig('a', nats.url, url, ['cam1', 'cam2'], { token: TOKEN, adminToken: ADMIN }),
      { logger: silent },
    );
    // another config file: it must not reseed, and says it differs
    b = await Vigil.start(nodeConfig('b', nats.url, url, ['cam1', 'other']), { logger: bLog.logger });
  }, 60_000);

  afterAll(async () => {
    await b?.stop();
    await a?.stop();
    await db?.end();
    await nats?.stop();
    await pgServer?.stop();
  });

  it("is seeded from the first node's config file only; a second node runs the cluster's cameras", async () => {
    expect((await rows()).map((r) => r.id)).toEqual(['cam1', 'cam2']);
    expect(ids(b)).toEqual(['cam1', 'cam2']);
    const differs = bLog.lines.find((l) => l.msg.includes('config file streams differ'));
    expect(differs?.onlyInFile).toEqual(['other']);
    expect(differs?.onlyInCluster).toEqual(['cam2']);
    await until(() => both().sort().join() === 'cam1,cam2', 'cam1 and cam2 live, once each', 20_000);
  }, 30_000);

  it('runs a camera PUT through the API on one node within seconds, restarts it changed, stops it deleted', async () => {
    const user = await put('cam3', lavfi('cam3'), TOKEN);
    expect(user.status).toBe(403);
    const at = Date.now();
    const created = await put('cam3', { lavfi: 'testsrc2=size=64x64:rate=5', width: 64, height: 64 });
    expect(created.status).toBe(201);
    expect((await created.json()).config).toMatchObject({ id: 'cam3', width: 64 });
    await until(() => both().includes('cam3'), 'cam3 live on a node', 10_000);
    const holder = live(a).includes('cam3') ? a : b;
    console.log(`PUT cam3 -> live on node ${holder === a ? 'a' : 'b'} after ${Date.now() - at} ms`);
    expect(both().filter((c) => c === 'cam3')).toHaveLength(1);
    // its frames travel the running chain to a viewer of its node
    const viewer = await TestViewer.connect(`ws://127.0.0.1:${holder.address.port}/ws?token=${TOKEN}`, [
      'cam3',
    ]);
    const framesOf = (w: number) =>
      viewer.frames.filter((f) => f.header.stream === 'cam3' && f.header.width === w);
    await viewer.waitFor(() => framesOf(64).length > 0, 10_000, 'a cam3 frame at the viewer');

    // changed: its holder restarts it with the new size
    const changedAt = Date.now();
    expect((await put('cam3', { lavfi: 'testsrc2=size=96x96:rate=5', width: 96, height: 96 })).status).toBe(
      200,
    );
    const cam3 = () => holder.context.sourceSet.get('cam3');
    await until(
      () => cam3()?.config.width === 96 && cam3()?.status.state === 'live',
      'cam3 live again at 96x96',
      10_000,
    );
    console.log(`PUT cam3 changed -> live again at 96x96 after ${Date.now() - changedAt} ms`);
    await viewer.waitFor(() => framesOf(96).length > 0, 10_000, 'a 96x96 cam3 frame at the viewer');
    viewer.close();

    const deletedAt = Date.now();
    const del = await fetch(`${base()}/cam3`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    expect(del.status).toBe(204);
    await until(
      () =>
        !ids(a).includes('cam3') &&
        !ids(b).includes('cam3') &&
        !holder.context.cluster?.leases.running().has('cam3'),
      'cam3 gone from both nodes and its lease given back',
      10_000,
    );
    console.log(`DELETE cam3 -> stopped after ${Date.now() - deletedAt} ms`);
    expect(
      (await fetch(`${base()}/cam3`, { method: 'DELETE', headers: { authorization: `Bearer ${ADMIN}` } }))
        .status,
    ).toBe(404);
    // a removed camera changes the shares: one of the others may be moving to the other node now
    await until(() => both().sort().join() === 'cam1,cam2', 'cam1 and cam2 live, once each', 10_000);
  }, 40_000);

  it('refuses a bad body with a 400 naming the key, and changes nothing', async () => {
    const before = await rows();
    const narrow = await put('cam1', { lavfi: 'testsrc2', width: 15 });
    expect(narrow.status).toBe(400);
    expect((await narrow.json()).detail).toMatch(/^invalid body: width: /);
    const twoSources = await put('cam9', { lavfi: 'testsrc2', url: 'rtsp://x/y' });
    expect(twoSources.status).toBe(400);
    expect((await twoSources.json()).detail).toMatch(/exactly one of url, device, lavfi or demo/);
    const unknownKey = await put('cam9', { lavfi: 'testsrc2', colour: 'red' });
    expect((await unknownKey.json()).detail).toMatch(/colour/);
    const otherId = await put('cam9', { id: 'cam8', lavfi: 'testsrc2' });
    expect((await otherId.json()).detail).toMatch(/^invalid body: id: /);
    expect(await rows()).toEqual(before);
    // a URL's password is stored, never answered
    const secret = await put('cam7', {
      url: 'rtsp://admin:hunter22@127.0.0.1:1/live',
      width: 64,
      height: 64,
    });
    expect(secret.status).toBe(201);
    expect(JSON.stringify(await secret.json())).not.toContain('hunter22');
    expect((await rows()).find((r) => r.id === 'cam7')?.config.url).toBe(
      'rtsp://admin:hunter22@127.0.0.1:1/live',
    );
    const listed = await fetch(base(), { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(JSON.stringify(await listed.json())).toContain('rtsp://***@127.0.0.1:1/live');
    await db.query("DELETE FROM cluster_cameras WHERE id = 'cam7'");
    const list = await fetch(base(), { headers: { authorization: `Bearer ${ADMIN}` } });
    expect((await list.json()).map((r: { id: string }) => r.id)).toEqual(['cam1', 'cam2']);
    const doc = await (
      await fetch(`http://127.0.0.1:${a.address.port}/api/openapi.json`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      })
    ).json();
    expect(Object.keys(doc.paths['/api/cluster/cameras/{id}'])).toEqual(['put', 'delete']);
  }, 20_000);

  it('skips a bad row (logged naming the camera) and keeps running the others', async () => {
    await db.query("INSERT INTO cluster_cameras (id, config) VALUES ('broken', $1)", [
      JSON.stringify({ lavfi: 'testsrc2', width: 'wide' }),
    ]);
    await until(
      () => bLog.lines.some((l) => l.camera === 'broken' && /width/.test(String(l.problem))),
      'the bad row logged',
      10_000,
    );
    expect(ids(b)).toEqual(['cam1', 'cam2']);
    // a removed camera changes the shares: one of the others may be moving to the other node now
    await until(() => both().sort().join() === 'cam1,cam2', 'cam1 and cam2 live, once each', 10_000);
    await db.query("DELETE FROM cluster_cameras WHERE id = 'broken'");
  }, 20_000);

  it('lists, adds and removes cameras with the CLI, and the nodes follow', async () => {
    const bad = cli('add', 'cam5', '--lavfi', 'testsrc2', '--set', '{"width": 15}');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/invalid camera "cam5": width: /);
    const added = cli(
      'add',
      'cam5',
      '--lavfi',
      'testsrc2=size=64x64:rate=5',
      '--width',
      '64',
      '--height',
      '64',
    );
    expect(added.stdout, added.stderr).toBe('added camera cam5\n');
    await until(() => both().includes('cam5'), 'cam5 live on a node', 10_000);
    const list = cli('list');
    expect(
      list.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(' ')[0]),
    ).toEqual(['cam1', 'cam2', 'cam5']);
    expect(JSON.parse(cli('list', '--json').stdout)[2].config.lavfi).toBe('testsrc2=size=64x64:rate=5');
    expect(cli('remove', 'cam5').stdout).toBe('removed camera cam5\n');
    await until(() => !ids(a).includes('cam5') && !ids(b).includes('cam5'), 'cam5 stopped', 10_000);
    const again = cli('remove', 'cam5');
    expect(again.status).toBe(2);
    expect(again.stderr).toMatch(/no camera "cam5"/);
  }, 30_000);
});
