/**
 * docker-compose.cluster.yml without Docker: its three Vigil nodes as real `node dist/cli.js run`
 * processes with the environment the compose file gives them (only NATS, PostgreSQL and the
 * advertised URL pointed at a real nats-server and PostgreSQL on 127.0.0.1, the file_sd path at a
 * temporary folder) and the cameras of config/cluster.yaml (its port, dataDir and, to spare this
 * 2-core machine, pipeline replaced by passthrough). Cluster mode must come from the environment
 * alone: each camera held by exactly one node, 2/2/2, and SIGTERM of one node hands its cameras
 * to the others.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { argAfter, envOf, loadCompose } from '../helpers/compose.js';
import { natsMissing, type NatsServer, startNats } from '../helpers/nats.js';
import { postgresMissing, type PostgresServer, startPostgres } from '../helpers/postgres.js';
import { skipUnless } from '../helpers/requirements.js';
import { freePort } from '../helpers/rtsp-server.js';
import { stillPending } from '../helpers/vigil-env.js';

const CLI = 'dist/cli.js';
const why =
  natsMissing() ?? postgresMissing() ?? (existsSync(CLI) ? null : `${CLI} is not built (npm run build)`);
const compose = loadCompose('docker-compose.cluster.yml');
const nodeServices = Object.entries(compose.services).filter(([, s]) => argAfter(s.command, CLI) === 'run');

interface Node {
  name: string;
  port: number;
  token: string;
  proc: ChildProcess;
  log: string;
}

/** Polls `ok` (which may ask the nodes over HTTP) every 250 ms until it holds. */
async function until(ok: () => boolean | Promise<boolean>, what: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * The cameras a node runs now: not `stopped` (a camera it holds no lease for) nor `remote` (the
 * cluster-wide list of the one-UI part of #15: a camera another node runs, with its `node`).
 */
async function held(n: Node): Promise<string[]> {
  const r = await fetch(`http://127.0.0.1:${n.port}/api/streams`, {
    headers: { authorization: `Bearer ${n.token}` },
  }).catch(() => null);
  if (!r?.ok) return [];
  const streams = (await r.json()) as Array<{ id: string; state: string; node?: string | null }>;
  const runs = (s: (typeof streams)[number]) =>
    s.state !== 'stopped' && s.state !== 'remote' && (s.node === undefined || s.node === n.name);
  return streams.filter(runs).map((s) => s.id);
}

describe.skipIf(skipUnless(why, 'compose cluster nodes as processes'))(
  'docker-compose.cluster.yml: its Vigil nodes as processes, cluster mode from their environment',
  () => {
    let nats: NatsServer | undefined;
    let pg: PostgresServer | undefined;
    const nodes: Node[] = [];
    const dir = mkdtempSync(join(tmpdir(), 'vigil-compose-cluster-'));
    const sdFile = join(dir, 'vigil-nodes.json');
    const cameras = (
      parse(readFileSync('config/cluster.yaml', 'utf8')) as { streams: Array<{ id: string }> }
    ).streams.map((s) => s.id);

    beforeAll(async () => {
      nats = await startNats();
      pg = await startPostgres();
      const db = await pg.createDatabase('compose_cluster');
      for (const [name, service] of nodeServices) {
        const port = await freePort();
        const config = parse(readFileSync('config/cluster.yaml', 'utf8')) as Record<string, unknown>;
        Object.assign(config, {
          server: { host: '127.0.0.1', port },
          log: { level: 'warn' },
          pipeline: 'passthrough',
          dataDir: mkdtempSync(join(dir, `${name}-data-`)),
        });
        const file = join(dir, `${name}.yaml`);
        writeFileSync(file, stringify(config));
        const env = {
          ...envOf(service),
          VIGIL_CLUSTER_NATS: nats.url,
          VIGIL_CLUSTER_POSTGRES: db,
          VIGIL_ADVERTISE_URL: `http://127.0.0.1:${port}`,
          VIGIL_PROMETHEUS_FILE_SD: sdFile,
        };
        const inherited = Object.fromEntries(
          Object.entries(process.env).filter(([k]) => !k.startsWith('VIGIL_')),
        );
        const proc = spawn('node', [CLI, 'run', '--config', file], {
          env: { ...inherited, ...env },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        const node: Node = { name, port, token: env.VIGIL_TOKEN as string, proc, log: '' };
        const keep = (d: Buffer) => {
          node.log = (node.log + d.toString()).slice(-4000);
        };
        proc.stdout?.on('data', keep);
        proc.stderr?.on('data', keep);
        nodes.push(node);
      }
    }, 60_000);

    afterAll(async () => {
      for (const n of nodes) if (n.proc.exitCode === null) n.proc.kill('SIGKILL');
      await nats?.stop();
      await pg?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('runs every camera of config/cluster.yaml on exactly one node, 2 per node', async () => {
      let seen: string[][] = [];
      await until(
        async () => {
          seen = await Promise.all(nodes.map(held));
          return (
            seen.every((h) => h.length === cameras.length / nodes.length) &&
            seen.flat().length === cameras.length
          );
        },
        'each node holds its share',
        90_000,
      ).catch((e) => {
        throw new Error(
          `${(e as Error).message}: ${JSON.stringify(seen)}\n${nodes.map((n) => `${n.name}: ${n.log}`).join('\n')}`,
        );
      });
      expect(new Set(seen.flat())).toEqual(new Set(cameras));
      console.log(`shares: ${nodes.map((n, i) => `${n.name} ${seen[i]?.join(',')}`).join('; ')}`);
    }, 120_000);

    it.skipIf(stillPending('VIGIL_PROMETHEUS_FILE_SD'))(
      'writes the file_sd targets of the live nodes',
      async () => {
        type Groups = Array<{ targets: string[]; labels: { node: string } }>;
        const read = (): Groups =>
          existsSync(sdFile) ? (JSON.parse(readFileSync(sdFile, 'utf8')) as Groups) : [];
        // rewritten as the nodes see each other's heartbeats: wait for all three
        await until(() => read().length === nodes.length, 'file_sd lists the 3 nodes', 20_000).catch((e) => {
          throw new Error(`${(e as Error).message}: ${JSON.stringify(read())}`);
        });
        const groups = read();
        expect(groups.map((g) => g.labels.node).sort()).toEqual(nodes.map((n) => n.name).sort());
        expect(groups.flatMap((g) => g.targets).sort()).toEqual(
          nodes.map((n) => `127.0.0.1:${n.port}`).sort(),
        );
      },
      30_000,
    );

    it('SIGTERM of a node: it exits 0 and the others take its cameras', async () => {
      const [a, b, c] = nodes as [Node, Node, Node];
      const its = await held(b);
      expect(its.length).toBeGreaterThan(0);
      const exited = new Promise<number | null>((r) => b.proc.once('exit', (code) => r(code)));
      const at = Date.now();
      b.proc.kill('SIGTERM');
      let exitMs = 0;
      const code = await exited.then((x) => {
        exitMs = Date.now() - at;
        return x;
      });
      expect(code, b.log).toBe(0);
      await until(
        async () => {
          const rest = [...(await held(a)), ...(await held(c))];
          return its.every((id) => rest.includes(id)) && rest.length === cameras.length;
        },
        `${its} taken by the others`,
        20_000,
      );
      console.log(
        `SIGTERM ${b.name}: exited after ${exitMs} ms; its ${its.join(', ')} held elsewhere after ${Date.now() - at} ms`,
      );
    }, 40_000);
  },
);
