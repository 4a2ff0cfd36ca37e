// Closing hosts whose workers run ONNX Runtime. worker.terminate() during a native session call
// aborted the whole process ("terminate called after throwing an instance of 'Napi::Error'"; it
// killed a CI run). The scenario runs in a child process, because that failure aborts the process.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/util/paths.js';
import { closeWorker } from '../../src/inference/worker-close.js';

describe('closing workers', () => {
  it('style and inference hosts on ONNX Runtime close mid-frame without aborting the process', () => {
    const cache = mkdtempSync(join(tmpdir(), 'vigil-close-'));
    const r = spawnSync(
      process.execPath,
      [
        join(PROJECT_ROOT, 'test/helpers/close-mid-flight.mjs'),
        join(PROJECT_ROOT, 'models/styles/starry-night'),
        cache,
        '4',
      ],
      { cwd: PROJECT_ROOT, encoding: 'utf8', timeout: 240_000 },
    );
    expect(r.stderr).not.toContain('terminate called');
    expect(r.signal, r.stderr).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1) as string) as Record<
      'style' | 'inference',
      Array<{ engines: string[]; outcomes: string[] }>
    >;
    for (const kind of ['style', 'inference'] as const) {
      expect(out[kind]).toHaveLength(4);
      for (const round of out[kind]) {
        expect(round.engines).toEqual(['onnx']); // the scenario really ran on ONNX Runtime
        // every request settles: finished, or refused because the host closed; none is lost
        for (const o of round.outcomes) expect(o).toMatch(/^(done|(style|inference) host closed)$/);
        expect(round.outcomes).toContain('done');
      }
    }
  }, 300_000);

  it('a worker that ignores the request is terminated after the timeout', async () => {
    const w = new Worker('setInterval(() => {}, 1000);', { eval: true });
    await new Promise((r) => w.once('online', r));
    const t0 = performance.now();
    expect(await closeWorker(w, { exited: false, timeoutMs: 300 })).toBe('terminated');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(290);
  });

  it('a worker that exits when asked is not terminated', async () => {
    const w = new Worker(
      "require('node:worker_threads').parentPort.on('message', (m) => { if (m.type === 'close') process.exit(0); });",
      { eval: true },
    );
    await new Promise((r) => w.once('online', r));
    expect(await closeWorker(w, { exited: false, timeoutMs: 5000 })).toBe('closed');
    expect(await closeWorker(w, { exited: true })).toBe('already exited');
  });
});
