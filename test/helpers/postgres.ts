/**
 * A real PostgreSQL 15 for vitest on 127.0.0.1: initdb into a temp dir, a free port, trust auth for
 * one superuser. PostgreSQL refuses to run as root (tests run as root here and in CI), so as root
 * both initdb and postgres run as `nobody` through setpriv, which execs in place: the child's pid
 * is the postmaster's own, so a signal reaches it and not a wrapper. It can be stopped (fast
 * shutdown), crashed (SIGKILL) and started again on the same port and data.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './rtsp-server.js';
import { COMPONENTS, componentMissing } from './system-deps.mjs';
import { portOpen } from './tcp.js';

const PG_BIN = (COMPONENTS.find((c) => c.name === 'postgresql')?.binDir ??
  '/usr/lib/postgresql/15/bin') as string;
export const PG_SUPERUSER = 'vigil';

/** Null when initdb and postgres can run here, else why not (the shared probe of .ci/run). */
export function postgresMissing(): string | null {
  return componentMissing('postgresql');
}

export interface PostgresServer {
  port: number;
  /** postgres://vigil@127.0.0.1:PORT/postgres */
  url: string;
  /** A URL of database `name` (created when new). */
  createDatabase(name: string): Promise<string>;
  /** SIGKILL of the postmaster (its backends exit on their own, then the port closes). */
  kill(): Promise<void>;
  /** Fast shutdown (SIGINT): clients are disconnected. */
  shutdown(): Promise<void>;
  /** Starts it again on the same port and data. */
  start(): Promise<void>;
  /** Stops it and removes the data. */
  stop(): Promise<void>;
  log(): string;
}

/** argv run as `nobody` when we are root (postgres will not run as root), else as is. */
function unprivileged(argv: string[]): [string, string[]] {
  if (userInfo().uid !== 0) return [argv[0] as string, argv.slice(1)];
  return ['setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', '--', ...argv]];
}

async function waitFor(ok: () => Promise<boolean>, what: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startPostgres(opts: { port?: number } = {}): Promise<PostgresServer> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-pg-'));
  const data = join(dir, 'data');
  if (userInfo().uid === 0) chownSync(dir, nobodyIds().uid, nobodyIds().gid);
  const [initCmd, initArgs] = unprivileged([
    join(PG_BIN, 'initdb'),
    ...['-D', data, '-U', PG_SUPERUSER, '--auth=trust', '-E', 'UTF8', '--no-sync'],
  ]);
  execFileSync(initCmd, initArgs, { stdio: 'pipe', cwd: dir });
  const port = opts.port ?? (await freePort());
  let child: ChildProcess | undefined;
  let output = '';
  const url = `postgres://${PG_SUPERUSER}@127.0.0.1:${port}/postgres`;
  const start = async () => {
    const [cmd, args] = unprivileged([
      join(PG_BIN, 'postgres'),
      ...['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1'],
      ...['-c', 'fsync=off', '-c', 'max_connections=200'],
    ]);
    const c = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], cwd: dir });
    child = c;
    const from = output.length;
    c.stderr?.setEncoding('utf8').on('data', (d: string) => {
      output += d;
    });
    await waitFor(
      async () => {
        if (c.exitCode !== null) throw new Error(`postgres exited ${c.exitCode}: ${output.slice(-2000)}`);
        return output.slice(from).includes('ready to accept connections') && (await portOpen(port));
      },
      `postgres ready on ${port}: ${output.slice(-2000)}`,
      20_000,
    );
  };
  const halt = async (signal: NodeJS.Signals) => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill(signal);
    await exited;
    // after SIGKILL the backends still hold the port and shared memory for a moment
    await waitFor(async () => !(await portOpen(port)), `postgres port ${port} closed`, 10_000);
    await waitFor(
      async () => !existsSync(join(data, 'postmaster.pid')) || signal === 'SIGKILL',
      'pid file',
      10_000,
    );
  };
  process.once('exit', () => child?.kill('SIGKILL'));
  await start();
  return {
    port,
    url,
    createDatabase: async (name) => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
        if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${name.replace(/"/g, '')}"`);
      } finally {
        await client.end();
      }
      return `postgres://${PG_SUPERUSER}@127.0.0.1:${port}/${name}`;
    },
    kill: () => halt('SIGKILL'),
    shutdown: () => halt('SIGINT'),
    start,
    stop: async () => {
      await halt('SIGINT');
      rmSync(dir, { recursive: true, force: true });
    },
    log: () => output,
  };
}

function nobodyIds(): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('getent', ['group', 'nogroup'], { encoding: 'utf8' }).split(':')[2]);
  return { uid, gid };
}
