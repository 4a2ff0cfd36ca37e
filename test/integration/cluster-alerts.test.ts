/**
 * The alert path of cluster nodes (src/cluster/cluster-alerts.ts) with a real nats-server and
 * PostgreSQL: two nodes raise alerts the way the alert stage does. The cluster-wide rule holds
 * (a person on a camera once per cooldown, whichever node ran the camera; the same stranger once,
 * another stranger again), each delivered alert reaches the sinks once in the cluster and every
 * node's own history once, and a node that lost the camera's lease raises nothing.
 */
import Database from 'better-sqlite3';
import { pino } from 'pino';
import type pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { ClusterAlerts } from '../../src/cluster/cluster-alerts.js';
import { connectNats, connectPostgres } from '../../src/cluster/connect.js';
import { ClusterSchema } from '../../src/config/schema.js';
import { AlertStore, type FaceAlert } from '../../src/faces/alerts.js';
import type { RaisedAlert } from '../../src/pipeline/stages/alert.js';
import { until } from '../helpers/mosquitto.js';
import { natsMissing, type NatsServer, startNats } from '../helpers/nats.js';
import { postgresMissing, type PostgresServer, startPostgres } from '../helpers/postgres.js';
import { skipUnless } from '../helpers/requirements.js';

const why = natsMissing() ?? postgresMissing();
const log = pino({ level: 'silent' });

/** A unit vector along `axis`, nudged by `noise` along the next axis (cosine ~ 1 - noise^2/2). */
function vector(axis: number, noise = 0): Float32Array {
  const v = new Float32Array(16);
  v[axis] = 1;
  v[(axis + 1) % 16] = noise;
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

function raised(
  camera: string,
  person: { id: number; name: string } | null,
  embedding: Float32Array,
  cooldownSeconds = 30,
): RaisedAlert {
  return {
    fields: {
      camera,
      sub_label: person?.name ?? 'unknown',
      person_id: person?.id ?? null,
      score: 0.8,
      track_id: 1,
      start_time: Date.now() / 1000,
    },
    snapshot: Buffer.from([0xff, 0xd8, 0xff, 0xd9]),
    face: undefined,
    cooldownSeconds,
    embedding,
  };
}

describe.skipIf(skipUnless(why, 'cluster alerts'))(
  'cluster alerts: deduplicated, delivered once, kept on every node',
  () => {
    let nats: NatsServer | undefined;
    let pgServer: PostgresServer | undefined;
    const closers: Array<() => Promise<unknown>> = [];
    afterAll(async () => {
      for (const c of closers.reverse()) await c().catch(() => undefined);
      await nats?.stop();
      await pgServer?.stop();
    });

    it('one alert per person and camera across nodes, one per stranger, none from a fenced node', async () => {
      nats = await startNats();
      pgServer = await startPostgres();
      const url = await pgServer.createDatabase('alerts');
      const sent: Array<{ node: string; alert: FaceAlert }> = [];
      const shown = new Map<string, FaceAlert[]>();
      const held = new Map<string, Set<string>>();
      const node = async (name: string) => {
        const config = ClusterSchema.parse({
          nats: nats?.url,
          postgres: url,
          node: name,
          retry: { initialMs: 100, maxMs: 1000 },
        });
        const nc = await connectNats(config, log);
        const pool: pg.Pool = await connectPostgres(config, log);
        const store = new AlertStore(new Database(':memory:'));
        const cams = new Set<string>();
        held.set(name, cams);
        shown.set(name, []);
        const alerts = await ClusterAlerts.open({
          config,
          nats: nc,
          pool,
          store,
          leases: { holds: (c) => cams.has(c), running: () => new Map([...cams].map((c) => [c, 7])) },
          sameStranger: 0.6,
          deliver: (alert) => sent.push({ node: name, alert }),
          show: (alert) => shown.get(name)?.push(alert),
          log,
        });
        closers.push(
          () => nc.close(),
          () => pool.end(),
          () => alerts.stop(),
        );
        return { alerts, store, cams };
      };
      const a = await node('a');
      const b = await node('b');
      const ava = { id: 1, name: 'Ava' };

      // cam1 on a: Ava; then cam1 fails over to b mid-appearance and b sees her again
      a.cams.add('cam1');
      a.alerts.raise(raised('cam1', ava, vector(0)));
      await until(() => sent.length === 1, 'the first alert delivered', 10_000);
      a.cams.delete('cam1');
      b.cams.add('cam1');
      b.alerts.raise(raised('cam1', ava, vector(0)));
      // the same person on another camera is another alert
      b.cams.add('cam2');
      b.alerts.raise(raised('cam2', ava, vector(0)));
      // a stranger on cam1, seen again by the other node (same face, a little noise), then another stranger
      b.alerts.raise(raised('cam1', null, vector(3)));
      await until(() => sent.length === 3, 'cam2 and the first stranger delivered', 10_000);
      a.cams.add('cam1');
      b.cams.delete('cam1');
      a.alerts.raise(raised('cam1', null, vector(3, 0.2)));
      a.alerts.raise(raised('cam1', null, vector(9)));
      // b no longer holds cam1: what it raises there now is fenced
      b.alerts.raise(raised('cam1', { id: 2, name: 'Bea' }, vector(5)));
      expect(b.alerts.fenced).toBe(1);
      // a short cooldown: once it is over, the same person on the same camera alerts again
      a.alerts.raise(raised('cam1', { id: 3, name: 'Cleo' }, vector(6), 1));
      await until(() => sent.length === 5, 'the second stranger and Cleo delivered', 10_000);
      await new Promise((r) => setTimeout(r, 1200));
      a.alerts.raise(raised('cam1', { id: 3, name: 'Cleo' }, vector(6), 1));
      await until(() => sent.length === 6, "Cleo's second alert after her cooldown", 10_000);
      await new Promise((r) => setTimeout(r, 1500)); // a duplicate delivery would arrive now

      await checkOutcome(sent, shown, [a.store, b.store], url);
    }, 60_000);
  },
);

/** What came out: the sinks, every node's history and viewers, and PostgreSQL's rows. */
async function checkOutcome(
  sent: Array<{ node: string; alert: FaceAlert }>,
  shown: Map<string, FaceAlert[]>,
  stores: AlertStore[],
  url: string,
): Promise<void> {
  const labels = sent.map((s) => `${s.alert.camera}:${s.alert.sub_label}`).sort();
  expect(labels).toEqual(['cam1:Ava', 'cam1:Cleo', 'cam1:Cleo', 'cam1:unknown', 'cam1:unknown', 'cam2:Ava']);
  const ids = sent.map((s) => s.alert.event_id);
  expect(new Set(ids).size).toBe(6);
  // every node keeps every delivered alert once, under its event id, with the raising node
  for (const store of stores) {
    const history = store.list({ limit: 50 });
    expect(new Set(history.map((h) => h.event_id))).toEqual(new Set(ids));
    expect(history.length).toBe(6);
    expect(store.snapshot(history[0]?.id ?? 0)).toEqual(Buffer.from([0xff, 0xd8, 0xff, 0xd9]));
  }
  expect(stores[0]?.byEvent(ids[0] ?? '')?.node).toBe('a');
  // and each node's viewers were shown each alert once
  for (const name of ['a', 'b'])
    expect(
      shown
        .get(name)
        ?.map((s) => s.event_id)
        .sort(),
    ).toEqual([...ids].sort());
  // PostgreSQL holds the duplicates, marked, never delivered
  const pool = await connectPostgres(
    ClusterSchema.parse({ nats: 'nats://127.0.0.1:4222', postgres: url, node: 'check' }),
    log,
  );
  const rows = await pool.query<{ n: number; dup: number; delivered: number }>(
    'SELECT count(*)::int AS n, count(duplicate_of)::int AS dup, count(delivered_at)::int AS delivered FROM cluster_events',
  );
  await pool.end();
  expect(rows.rows[0]).toEqual({ n: 8, dup: 2, delivered: 6 });
}
