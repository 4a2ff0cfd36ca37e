/**
 * A real nats-server with JetStream for vitest on 127.0.0.1: its own temp store dir and free port.
 * It can be killed (SIGKILL, like a crash) or paused and started again on the same port with the
 * same store, so streams, consumers and KV buckets outlive a restart as they do in production.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './rtsp-server.js';
import { COMPONENTS, componentMissing } from './system-deps.mjs';
import { portOpen } from './tcp.js';

const BINARY = (COMPONENTS.find((c) => c.name === 'nats-server')?.binary ?? 'nats-server') as string;

/** Null when nats-server can run here, else why not (the shared probe of .ci/run). */
export function natsMissing(): string | null {
  return componentMissing('nats-server');
}

export interface NatsServer {
  port: number;
  url: string;
  /** SIGKILL: no clean shutdown, like a crashed server. */
  kill(): Promise<void>;
  /** Starts it again on the same port and store dir (JetStream state survives). */
  start(): Promise<void>;
  /** Stops it and removes the store. */
  stop(): Promise<void>;
  /** What the server logged. */
  log(): string;
}

/** Starts `nats-server -js` listening on 127.0.0.1 only. */
export async function startNats(opts: { port?: number } = {}): Promise<NatsServer> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-nats-'));
  const port = opts.port ?? (await freePort());
  let child: ChildProcess | undefined;
  let output = '';
  const start = async () => {
    const c = spawn(BINARY, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = c;
    const from = output.length;
    const keep = (d: string) => {
      output += d;
    };
    c.stdout?.setEncoding('utf8').on('data', keep);
    c.stderr?.setEncoding('utf8').on('data', keep);
    const deadline = Date.now() + 10_000;
    // JetStream is ready once "Server is ready" is logged (the port opens a little earlier)
    while (!(output.slice(from).includes('Server is ready') && (await portOpen(port)))) {
      if (c.exitCode !== null) throw new Error(`nats-server exited ${c.exitCode}: ${output.slice(-2000)}`);
      if (Date.now() > deadline) throw new Error(`nats-server not ready on ${port}: ${output.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const kill = async (signal: NodeJS.Signals) => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill(signal);
    await exited;
  };
  process.once('exit', () => child?.kill('SIGKILL'));
  await start();
  return {
    port,
    url: `nats://127.0.0.1:${port}`,
    kill: () => kill('SIGKILL'),
    start,
    stop: async () => {
      await kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
    log: () => output,
  };
}
