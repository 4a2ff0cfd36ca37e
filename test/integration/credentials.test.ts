/**
 * Camera passwords never leave the config (#19 item 2): a real Vigil with two cameras whose URLs
 * carry a password, one on a closed port and one on a wrong mount of the real RTSP test server.
 * Their errors (ffmpeg's own messages, which quote the URL) must reach the API, every viewer and
 * the logs with the credentials hidden, and still name host, port and path.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Vigil } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import { skipUnless } from '../helpers/requirements.js';
import {
  freePort,
  type RtspTestServer,
  rtspServerAvailable,
  startRtspServer,
} from '../helpers/rtsp-server.js';
import { TestViewer } from '../helpers/ws-client.js';

const PASSWORD = 'S3cretPW';
const missing = await rtspServerAvailable();

async function until<T>(fn: () => Promise<T | undefined | false>, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Status {
  id: string;
  state: string;
  attempts: number;
  lastError?: string;
}

describe.skipIf(skipUnless(missing, 'credential redaction over RTSP'))('camera credentials', () => {
  let server: RtspTestServer;
  let vigil: Vigil;
  let base: string;
  let viewer: TestViewer;
  let closedPort: number;
  const logText: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logText.push(String(chunk));
      cb();
    },
  });

  beforeAll(async () => {
    server = await startRtspServer({ width: 320, height: 180, fps: 10 });
    closedPort = await freePort();
    const camera = { width: 320, height: 180, detectFps: 1, displayFps: 5, socketTimeoutSeconds: 2 };
    const reconnect = { initialMs: 200, maxMs: 800 };
    vigil = await Vigil.start(
      validateConfig({
        server: { host: '127.0.0.1', port: 0 },
        pipeline: 'passthrough',
        dataDir: mkdtempSync(join(tmpdir(), 'vigil-credentials-')),
        log: { level: 'debug' },
        streams: [
          { id: 'closed', url: `rtsp://admin:${PASSWORD}@127.0.0.1:${closedPort}/cam`, reconnect, ...camera },
          {
            id: 'wrongmount',
            url: `rtsp://admin:${PASSWORD}@127.0.0.1:${server.port}/nosuch`,
            reconnect,
            ...camera,
          },
        ],
      }),
      { logger: createLogger('debug', sink) },
    );
    base = `http://127.0.0.1:${vigil.address.port}`;
    viewer = await TestViewer.connect(`ws://127.0.0.1:${vigil.address.port}/ws`);
  }, 60_000);

  afterAll(async () => {
    viewer?.close();
    await vigil?.stop();
    await server?.stop();
  });

  it('hides the password in /api/streams, WebSocket messages, logs and /metrics, naming host and path', async () => {
    // two failed attempts each: the error was written, then written again by a reconnect
    const streams = await until(
      async () => {
        const s = (await (await fetch(`${base}/api/streams`)).json()) as Status[];
        return s.length === 2 && s.every((x) => x.attempts >= 2 && x.lastError) && s;
      },
      30_000,
      'both streams to fail twice with an error',
    );
    const byId = new Map(streams.map((s) => [s.id, s]));
    const closed = byId.get('closed')?.lastError ?? '';
    const wrong = byId.get('wrongmount')?.lastError ?? '';
    // the operator can still tell which camera failed, and why
    expect(closed).toContain(`rtsp://***@127.0.0.1:${closedPort}/cam`);
    expect(closed).toMatch(/refused/i);
    expect(wrong).toContain(`rtsp://***@127.0.0.1:${server.port}/nosuch`);
    expect(wrong).toMatch(/404|not found/i);

    await viewer.waitFor(
      (v) => v.events.filter((e) => e.type === 'status').length >= 4,
      10_000,
      'status messages',
    );
    const hello = viewer.events.find((e) => e.type === 'hello');
    expect(hello).toBeDefined();
    const statuses = viewer.events.filter((e) => e.type === 'status');
    expect(JSON.stringify(statuses)).toContain('rtsp://***@127.0.0.1');
    // a viewer connecting now gets the errors in its hello
    const late = await TestViewer.connect(`ws://127.0.0.1:${vigil.address.port}/ws`);
    await late.waitFor((v) => v.events.some((e) => e.type === 'hello'), 5000, 'hello');
    const lateHello = JSON.stringify(late.events.find((e) => e.type === 'hello'));
    late.close();
    expect(lateHello).toContain(`rtsp://***@127.0.0.1:${closedPort}/cam`);

    const metrics = await (await fetch(`${base}/metrics`)).text();
    const logs = logText.join('');
    expect(logs).toContain('stream disconnected');
    expect(logs).toContain(`rtsp://***@127.0.0.1:${server.port}/nosuch`);

    const exits = {
      'api/streams': JSON.stringify(streams),
      'ws hello (first viewer)': JSON.stringify(hello),
      'ws hello (late viewer)': lateHello,
      'ws status': JSON.stringify(statuses),
      logs,
      metrics,
    };
    for (const [where, text] of Object.entries(exits)) {
      expect(text.includes(PASSWORD), `${where} carries the password`).toBe(false);
      expect(text.includes('admin:'), `${where} carries the user name`).toBe(false);
    }
  }, 60_000);
});
