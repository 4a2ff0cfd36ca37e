import { firstValueFrom, filter, timeout } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamSchema } from '../../src/config/schema.js';
import { resolveFfmpeg } from '../../src/sources/ffmpeg.js';
import type { Frame } from '../../src/sources/frame.js';
import {
  type DisconnectCause,
  liveFfmpegPids,
  StreamSource,
  type StreamStatus,
} from '../../src/sources/stream-source.js';
import {
  freePort,
  type RtspTestServer,
  rtspServerAvailable,
  startRtspServer,
} from '../helpers/rtsp-server.js';
import { skipUnless } from '../helpers/requirements.js';

const unavailable = await rtspServerAvailable();
const skip = skipUnless(unavailable, 'RTSP source tests');

function source(url: string, extra: Record<string, unknown> = {}) {
  const cfg = StreamSchema.parse({
    id: `s${Math.random().toString(36).slice(2, 6)}`,
    url,
    width: 320,
    height: 180,
    displayFps: 10,
    detectFps: 5,
    watchdogSeconds: 3,
    socketTimeoutSeconds: 2,
    reconnect: { initialMs: 200, maxMs: 1000, factor: 2, maxAttempts: 0 },
    ...extra,
  });
  const frames: Frame[] = [];
  const disconnects: DisconnectCause[] = [];
  const s = new StreamSource(cfg, resolveFfmpeg(), {
    onDisconnect: (c) => disconnects.push(c),
  });
  s.frames$.subscribe((f) => {
    // keep metadata only; the pixels go back to the pool
    frames.push({
      ...f,
      pixels: Buffer.from(f.pixels.subarray(0, 3)),
      retain: () => f,
      release: () => {},
    } as Frame);
    if (frames.length > 200) frames.shift();
    expect(f.pixels.length).toBe(f.width * f.height * 3);
  });
  return { s, frames, disconnects };
}

const until = (s: StreamSource, pred: (st: StreamStatus) => boolean, ms: number) =>
  firstValueFrom(s.state$.pipe(filter(pred), timeout(ms)));

describe.skipIf(skip)('RTSP source against a real GStreamer RTSP server', () => {
  let server: RtspTestServer;
  beforeAll(async () => {
    server = await startRtspServer({ width: 640, height: 360, fps: 15 });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('delivers exact frames of the configured size, goes live, numbers them in order', async () => {
    const { s, frames } = source(server.url);
    s.start();
    await until(s, (st) => st.state === 'live', 10_000);
    await new Promise((r) => setTimeout(r, 1500));
    await s.stop();
    expect(frames.length).toBeGreaterThan(5);
    for (const f of frames) expect([f.width, f.height]).toEqual([320, 180]);
    const seqs = frames.map((f) => f.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(s.status.state).toBe('stopped');
  });

  it('a killed and restarted server: the stream retries and resumes by itself', async () => {
    const { s, frames, disconnects } = source(server.url);
    s.start();
    await until(s, (st) => st.state === 'live', 10_000);
    await server.kill();
    const retrying = await until(s, (st) => st.state === 'retrying', 10_000);
    expect(retrying.lastError).toBeTruthy();
    expect(disconnects[0]).toMatch(/exit|error/); // ffmpeg often exits 0 here: still a disconnect
    const before = frames.at(-1)?.seq ?? -1;
    await server.restart();
    await until(s, (st) => st.state === 'live', 15_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(frames.at(-1)?.seq).toBeGreaterThan(before);
    await s.stop();
  });

  it('a frozen server (SIGSTOP) is detected, and the stream recovers once it resumes', async () => {
    const { s, disconnects } = source(server.url);
    s.start();
    await until(s, (st) => st.state === 'live', 10_000);
    server.freeze();
    try {
      const st = await until(s, (x) => x.state === 'retrying', 10_000);
      expect(st.lastError).toMatch(/no frame for 3 s|timed out|Invalid data|ended/i);
      expect(disconnects.length).toBeGreaterThanOrEqual(1);
    } finally {
      server.resume();
    }
    await until(s, (st) => st.state === 'live', 20_000);
    await s.stop();
  });

  it('a bad URL gives a clear error and state retrying, while another stream keeps running', async () => {
    const deadPort = await freePort();
    const bad = source(`rtsp://127.0.0.1:${deadPort}/nothing`);
    const good = source(server.url);
    good.s.start();
    bad.s.start();
    await until(good.s, (st) => st.state === 'live', 10_000);
    const st = await until(bad.s, (x) => x.state === 'retrying', 10_000);
    expect(st.lastError).toMatch(/Connection refused/);
    const n = good.frames.length;
    await new Promise((r) => setTimeout(r, 2500));
    expect(good.frames.length).toBeGreaterThan(n + 10);
    expect(bad.s.status.state).not.toBe('live');
    expect(bad.s.status.attempts).toBeGreaterThanOrEqual(2);
    await Promise.all([good.s.stop(), bad.s.stop()]);
  });

  it('gives up after maxAttempts and reports failed', async () => {
    const deadPort = await freePort();
    const { s } = source(`rtsp://127.0.0.1:${deadPort}/x`, {
      reconnect: { initialMs: 50, maxMs: 100, factor: 2, maxAttempts: 2 },
    });
    s.start();
    const st = await until(s, (x) => x.state === 'failed', 10_000);
    expect(st.attempts).toBe(2);
    expect(st.lastError).toMatch(/Connection refused/);
    await s.stop();
  });

  it('leaves no ffmpeg process behind', () => {
    expect(liveFfmpegPids()).toEqual([]);
  });
});
