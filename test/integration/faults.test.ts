import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Vigil } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';
import { resolveFfmpeg } from '../../src/sources/ffmpeg.js';
import { samplePhoto } from '../helpers/images.js';
import { metricSum, parseMetrics } from '../helpers/ws-client.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tmp = mkdtempSync(join(tmpdir(), 'vigil-faults-'));

/** Collects Vigil's JSON log lines. */
function capturingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines };
}

async function until<T>(fn: () => T | undefined | false, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(100);
  }
}

// One service, several streams, one fault at a time; after each, the service is up, the other
// streams kept running, and the fault is in the metrics and the logs.
describe('faults', () => {
  let vigil: Vigil;
  let base: string;
  const { logger, lines } = capturingLogger();
  const garbage = join(tmp, 'garbage.mp4');
  const resize = join(tmp, 'resize.ts');

  beforeAll(async () => {
    writeFileSync(garbage, Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 7919) % 251)));
    // 2 s at 320x240, then 2 s at 640x360, in one MPEG-TS file (a resolution change mid-stream)
    const ff = resolveFfmpeg().path;
    const part = (size: string, f: string) =>
      execFileSync(ff, [
        '-loglevel',
        'error',
        '-y',
        '-f',
        'lavfi',
        '-i',
        `testsrc2=size=${size}:rate=10`,
        '-t',
        '2',
        '-c:v',
        'mpeg2video',
        '-f',
        'mpegts',
        f,
      ]);
    part('320x240', join(tmp, 'a.ts'));
    part('640x360', join(tmp, 'b.ts'));
    writeFileSync(resize, Buffer.concat([readFileSync(join(tmp, 'a.ts')), readFileSync(join(tmp, 'b.ts'))]));
    vigil = await Vigil.start(
      validateConfig({
        server: { host: '127.0.0.1', port: 0 },
        pipeline: 'recognize',
        dataDir: join(tmp, 'data'),
        inference: { backend: 'wasm' },
        streams: [
          {
            id: 'steady',
            lavfi: 'testsrc2=size=320x180:rate=10',
            width: 320,
            height: 180,
            detectFps: 2,
            displayFps: 10,
          },
          {
            id: 'victim',
            lavfi: 'smptebars=size=320x180:rate=10',
            width: 320,
            height: 180,
            detectFps: 2,
            displayFps: 10,
            reconnect: { initialMs: 200, maxMs: 1000 },
          },
          {
            id: 'garbage',
            url: garbage,
            width: 320,
            height: 180,
            reconnect: { initialMs: 300, maxMs: 2000 },
          },
          { id: 'resize', url: resize, loop: true, width: 320, height: 180, detectFps: 2, displayFps: 10 },
        ],
      }),
      { logger },
    );
    base = `http://127.0.0.1:${vigil.address.port}`;
    await until(
      () => vigil.context.sources.filter((s) => s.status.state === 'live').length >= 3,
      20_000,
      'three live streams',
    );
  });
  afterAll(() => vigil?.stop());

  const metrics = async () => parseMetrics(await (await fetch(`${base}/metrics`)).text());
  const decoded = async (stream: string) =>
    metricSum(await metrics(), 'vigil_frames_decoded_total', { stream });
  /** The steady stream keeps decoding while `fn` runs. */
  async function steadyThrough(fn: () => Promise<void>) {
    const before = await decoded('steady');
    await fn();
    // the steady stream keeps decoding: 5 more frames, however quickly the fault was over (a
    // reconnect can take under 0.5 s, less than 5 frames of a slow stream)
    const end = Date.now() + 5000;
    let now = await decoded('steady');
    while (now <= before + 5 && Date.now() < end) {
      await sleep(100);
      now = await decoded('steady');
    }
    expect(now).toBeGreaterThan(before + 5);
    expect((await fetch(`${base}/api/health`)).status).toBe(200);
  }

  it('a stream of garbage bytes: a clear error, retrying, counted; the others run', async () => {
    const g = vigil.context.sources.find((s) => s.id === 'garbage');
    const st = await until(() => g?.status.lastError && g.status, 10_000, 'the garbage stream error');
    expect(['retrying', 'connecting']).toContain(st.state);
    expect(st.lastError).toMatch(/Invalid data|moov atom|could not find|error/i);
    expect(
      metricSum(await metrics(), 'vigil_stream_reconnects_total', { stream: 'garbage' }),
    ).toBeGreaterThan(0);
    expect(lines.some((l) => l.msg === 'stream disconnected' && l.stream === 'garbage')).toBe(true);
    await steadyThrough(() => sleep(1000));
  });

  it('a resolution change mid-stream: frames keep the configured size, the stream stays up', async () => {
    const r = vigil.context.sources.find((s) => s.id === 'resize');
    const seen = new Set<string>();
    const sub = r?.frames$.subscribe((f) => seen.add(`${f.width}x${f.height}:${f.pixels.length}`));
    await sleep(4500); // covers both halves of the file
    sub?.unsubscribe();
    expect([...seen]).toEqual([`320x180:${320 * 180 * 3}`]);
    expect(r?.status.state).toBe('live');
  });

  it('ffmpeg killed: the stream reconnects by itself, the cause is counted and logged', async () => {
    const v = vigil.context.sources.find((s) => s.id === 'victim');
    await steadyThrough(async () => {
      v?.process?.kill('SIGKILL');
      await until(() => v?.status.state === 'retrying', 5000, 'retrying');
      await until(() => v?.status.state === 'live', 10_000, 'live again');
    });
    expect(metricSum(await metrics(), 'vigil_stream_reconnects_total', { stream: 'victim' })).toBeGreaterThan(
      0,
    );
    expect(lines.some((l) => l.msg === 'stream disconnected' && l.stream === 'victim')).toBe(true);
  });

  it('the inference worker crashes: restarted and counted, detection goes on', async () => {
    const processed = async () =>
      metricSum(await metrics(), 'vigil_frames_processed_total', { stream: 'steady' });
    await steadyThrough(async () => {
      vigil.context.host?.crashWorker(0);
      await until(
        () => lines.some((l) => String(l.msg).includes('exited') && String(l.msg).includes('restarting')),
        10_000,
        'the restart log',
      );
      const p = await processed();
      await sleep(2500);
      expect(await processed()).toBeGreaterThan(p);
    });
    expect(metricSum(await metrics(), 'vigil_inference_worker_restarts_total')).toBe(1);
  });

  it('the gallery locked by another process during enrollment: 503, nothing lost', async () => {
    const ok = await fetch(`${base}/api/people?name=first`, {
      method: 'POST',
      headers: { 'content-type': 'image/jpeg' },
      body: readFileSync(samplePhoto(1)),
    });
    // sample1 has several faces: refused before any write; enroll one face cut from it instead
    expect(ok.status).toBe(422);
    const { decodeImage, cropJpeg } = await import('../../src/util/image.js');
    const img = await decodeImage(readFileSync(samplePhoto(1)));
    const faces = await vigil.context.faces?.service.engine.detect(img);
    const one = await cropJpeg(img, faces?.[0]?.box as [number, number, number, number], {
      margin: 0.5,
      size: 300,
    });
    expect(
      (
        await fetch(`${base}/api/people?name=kept`, {
          method: 'POST',
          headers: { 'content-type': 'image/jpeg' },
          body: one,
        })
      ).status,
    ).toBe(201);

    const other = new Database(join(tmp, 'data', 'vigil.db'));
    other.exec('BEGIN EXCLUSIVE');
    try {
      const r = await fetch(`${base}/api/people?name=blocked`, {
        method: 'POST',
        headers: { 'content-type': 'image/jpeg' },
        body: one,
      });
      expect(r.status).toBe(503);
      expect(((await r.json()) as { error: string }).error).toContain('locked');
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    const people = (await (await fetch(`${base}/api/people`)).json()) as Array<{
      name: string;
      embedded: number;
    }>;
    expect(people.map((p) => p.name)).toEqual(['kept']);
    expect(lines.some((l) => String(l.msg).includes('gallery database busy'))).toBe(true);
  }, 30_000);

  it('disk full during enrollment (SQLite page limit reached): 507, nothing half-written', async () => {
    const db = vigil.context.faces?.gallery.db as Database.Database;
    const pages = db.pragma('page_count', { simple: true }) as number;
    db.pragma(`max_page_count = ${pages}`);
    try {
      const { decodeImage, cropJpeg } = await import('../../src/util/image.js');
      const img = await decodeImage(readFileSync(samplePhoto(2)));
      const faces = await vigil.context.faces?.service.engine.detect(img);
      const one = await cropJpeg(img, faces?.[0]?.box as [number, number, number, number], {
        margin: 0.5,
        size: 300,
      });
      const r = await fetch(`${base}/api/people?name=nospace`, {
        method: 'POST',
        headers: { 'content-type': 'image/jpeg' },
        body: one,
      });
      expect(r.status).toBe(507);
      expect(((await r.json()) as { error: string }).error).toContain('nothing was changed');
    } finally {
      db.pragma('max_page_count = 1073741823');
    }
    const rows = db
      .prepare(
        'SELECT (SELECT COUNT(*) FROM people) p, (SELECT COUNT(*) FROM photos) ph, (SELECT COUNT(*) FROM embeddings) e',
      )
      .get();
    expect(rows).toEqual({ p: 1, ph: 1, e: 1 });
  });

  it('WebSocket clients that disconnect mid-frame do not hurt the server or the others', async () => {
    const url = `ws://127.0.0.1:${vigil.address.port}/ws`;
    await steadyThrough(async () => {
      for (let i = 0; i < 20; i++) {
        const ws = new WebSocket(url);
        ws.on('error', () => {});
        ws.on('open', () => {
          ws.send(JSON.stringify({ type: 'subscribe', streams: '*' }));
          // drop the TCP connection while frames are on their way
          setTimeout(
            () => (ws as unknown as { _socket: import('node:net').Socket })._socket.destroy(),
            50 + i * 10,
          );
        });
      }
      await sleep(1500);
    });
    await until(() => vigil.context.hub.clientCount === 0, 5000, 'every client gone');
    expect(metricSum(await metrics(), 'vigil_ws_clients')).toBe(0);
  });

  it('ffmpeg missing: a clear error at start-up naming the path', async () => {
    await expect(
      Vigil.start(
        validateConfig({
          server: { host: '127.0.0.1', port: 0 },
          log: { level: 'silent' },
          ffmpegPath: '/nonexistent/ffmpeg',
          pipeline: 'passthrough',
          streams: [{ id: 'a', lavfi: 'testsrc2' }],
        }),
      ),
    ).rejects.toThrow('ffmpeg not found or not runnable at ffmpegPath "/nonexistent/ffmpeg"');
    expect(existsSync('/nonexistent/ffmpeg')).toBe(false);
  });
});
