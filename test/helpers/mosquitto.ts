/**
 * A real mosquitto broker for vitest on 127.0.0.1: its own temp dir, config file and free port,
 * optionally with a password file (mosquitto_passwd); it can be killed and started again on the
 * same port. Plus a subscriber (mqtt.js) that records every message with its retain flag.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { freePort } from './rtsp-server.js';
import { COMPONENTS, componentMissing } from './system-deps.mjs';

const BINARY = (COMPONENTS.find((c) => c.name === 'mosquitto')?.binary ?? 'mosquitto') as string;

/** Null when mosquitto can run here, else why not (the shared probe of .ci/run). */
export function mosquittoMissing(): string | null {
  return componentMissing('mosquitto');
}

export interface Broker {
  port: number;
  url: string;
  /** SIGKILL: no clean disconnect, like a crashed broker. */
  kill(): Promise<void>;
  /** Starts it again on the same port (retained messages are gone: no persistence). */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** What the broker logged (connections refused, ...). */
  log(): string;
}

async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * Starts mosquitto; `users` turns anonymous access off and writes a password file. `persist` saves
 * sessions every second, so a persistent subscriber's subscription outlives a SIGKILL and what is
 * published after the restart waits for it (a test cannot lose messages to a reconnect race).
 */
export async function startBroker(
  opts: { users?: Record<string, string>; persist?: boolean } = {},
): Promise<Broker> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-mosquitto-'));
  const port = await freePort();
  // run as whoever runs the tests: as root mosquitto would switch to user "mosquitto", who cannot
  // read the temp dir's password file or write its persistence file
  const lines = [
    `listener ${port} 127.0.0.1`,
    `user ${userInfo().username}`,
    'log_dest stderr',
    'log_type all',
  ];
  lines.push(
    ...(opts.persist
      ? ['persistence true', `persistence_location ${dir}/`, 'autosave_interval 1']
      : ['persistence false']),
  );
  if (opts.users) {
    const file = join(dir, 'passwd');
    writeFileSync(file, '');
    for (const [user, pw] of Object.entries(opts.users))
      execFileSync('mosquitto_passwd', ['-b', file, user, pw]);
    lines.push('allow_anonymous false', `password_file ${file}`);
  } else lines.push('allow_anonymous true');
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, `${lines.join('\n')}\n`);
  let child: ChildProcess | undefined;
  let output = '';
  const start = async () => {
    const c = spawn(BINARY, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = c;
    c.stderr?.setEncoding('utf8').on('data', (d: string) => {
      output = (output + d).slice(-20_000);
    });
    const deadline = Date.now() + 10_000;
    while (!(await portOpen(port))) {
      if (c.exitCode !== null) throw new Error(`mosquitto exited ${c.exitCode}: ${output.slice(-2000)}`);
      if (Date.now() > deadline)
        throw new Error(`mosquitto not listening on ${port}: ${output.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
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
    url: `mqtt://127.0.0.1:${port}`,
    kill: () => kill('SIGKILL'),
    start,
    stop: async () => {
      await kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
    log: () => output,
  };
}

export interface Received {
  topic: string;
  payload: Buffer;
  retain: boolean;
  text: string;
}

/** A subscriber to `topics` that keeps everything it receives, in order. */
export async function subscriber(
  url: string,
  topics: string[],
  opts: { clientId?: string; persistent?: boolean } = {},
): Promise<{ client: MqttClient; messages: Received[]; on: (topic: string) => Received[] }> {
  const client = await mqtt.connectAsync(url, {
    clientId: opts.clientId ?? `test-sub-${process.pid}-${Math.random().toString(36).slice(2)}`,
    clean: !opts.persistent,
    reconnectPeriod: 200,
  });
  const messages: Received[] = [];
  client.on('message', (topic, payload, packet) =>
    messages.push({ topic, payload, retain: packet.retain, text: payload.toString('utf8') }),
  );
  await client.subscribeAsync(topics, { qos: 1 });
  return { client, messages, on: (topic) => messages.filter((m) => m.topic === topic) };
}

/** Waits until `ok()` holds (polling), or fails with `what`. */
export async function until(ok: () => boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
