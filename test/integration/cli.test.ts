import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '../helpers/rtsp-server.js';

const CLI = join(process.cwd(), 'dist', 'cli.js');

function childPids(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .map((l) => Number(l.trim()))
      .filter((n) => n > 0);
  } catch {
    return []; // ps exits 1 when there are none
  }
}
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function waitHttp(url: string, ms: number, pred: (body: unknown) => boolean): Promise<unknown> {
  const end = Date.now() + ms;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const r = await fetch(url);
      last = await r.json();
      if (pred(last)) return last;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${url}: last ${JSON.stringify(last)}`);
}

function run(args: string[]): { child: ChildProcess; out: () => string } {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d) => {
    out += d;
  });
  child.stderr?.on('data', (d) => {
    out += d;
  });
  return { child, out: () => out };
}

describe('vigil CLI', () => {
  it('rejects an invalid config at once, naming the key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'streams:\n  - id: cam\n    url: rtsp://127.0.0.1/x\n    detectFps: -1\n');
    const { child, out } = run(['run', '--config', file]);
    const code = await new Promise((r) => child.on('exit', r));
    expect(code).toBe(2);
    expect(out()).toContain('streams[0].detectFps');
    expect(out()).toContain(file);
  });

  it('runs several streams and shuts down cleanly on SIGTERM: no orphan ffmpeg', async () => {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'vigil-'));
    const file = join(dir, 'two.yaml');
    writeFileSync(
      file,
      [
        `server: {host: 127.0.0.1, port: ${port}}`,
        'pipeline: passthrough',
        'streams:',
        '  - {id: one, lavfi: "testsrc2=size=320x180:rate=10", width: 320, height: 180}',
        '  - {id: two, lavfi: "smptebars=size=320x180:rate=10", width: 320, height: 180}',
      ].join('\n'),
    );
    const { child, out } = run(['run', '--config', file]);
    try {
      const streams = (await waitHttp(
        `http://127.0.0.1:${port}/api/streams`,
        20_000,
        (b) => Array.isArray(b) && b.length === 2 && b.every((s: { state: string }) => s.state === 'live'),
      )) as Array<{ id: string }>;
      expect(streams.map((s) => s.id)).toEqual(['one', 'two']);
      const ffmpegs = childPids(child.pid as number);
      expect(ffmpegs.length).toBe(2);
      child.kill('SIGTERM');
      const code = await new Promise((r) => child.on('exit', r));
      expect(code, out()).toBe(0);
      await new Promise((r) => setTimeout(r, 200));
      expect(ffmpegs.filter(alive)).toEqual([]);
      expect(out()).toContain('shutting down');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
