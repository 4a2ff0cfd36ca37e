import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Vigil } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';

const TOKEN = 'user-token-0123456789';
const ADMIN = 'admin-token-0123456789';

function wsStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    ws.on('open', () => {
      ws.close();
      resolve(101);
    });
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('error', () => resolve(-1));
  });
}

describe('access control', () => {
  let vigil: Vigil;
  let base: string;
  const cfg = (server: Record<string, unknown>) =>
    validateConfig({
      server: { host: '127.0.0.1', port: 0, ...server },
      log: { level: 'silent' },
      pipeline: 'recognize',
      dataDir: mkdtempSync(join(tmpdir(), 'vigil-auth-')),
      inference: { backend: 'wasm' },
      streams: [
        {
          id: 'cam',
          lavfi: 'testsrc2=size=320x180:rate=5',
          width: 320,
          height: 180,
          detectFps: 1,
          displayFps: 5,
        },
      ],
    });

  beforeAll(async () => {
    vigil = await Vigil.start(cfg({ auth: { token: TOKEN, adminToken: ADMIN } }));
    base = `http://127.0.0.1:${vigil.address.port}`;
  });
  afterAll(() => vigil?.stop());

  it('refuses to listen beyond loopback without tokens, naming what to set', async () => {
    await expect(Vigil.start(cfg({ host: '0.0.0.0' }))).rejects.toThrow(
      /server.host "0.0.0.0" listens beyond loopback: set server.auth.token \(or VIGIL_TOKEN\) and server.auth.adminToken/,
    );
  });

  it('the API needs the token (Bearer header or ?token=); health and the page stay open', async () => {
    const none = await fetch(`${base}/api/streams`);
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: string }).error).toContain('Bearer');
    expect(
      (await fetch(`${base}/api/streams`, { headers: { authorization: 'Bearer wrong-token-000000000' } }))
        .status,
    ).toBe(401);
    expect(
      (await fetch(`${base}/api/streams`, { headers: { authorization: `Bearer ${TOKEN}` } })).status,
    ).toBe(200);
    expect((await fetch(`${base}/api/streams?token=${TOKEN}`)).status).toBe(200);
    expect(
      (await fetch(`${base}/api/streams`, { headers: { authorization: `Bearer ${ADMIN}` } })).status,
    ).toBe(200);
    expect((await fetch(`${base}/api/health`)).status).toBe(200);
    expect((await fetch(`${base}/`)).status).toBe(200);
    expect((await fetch(`${base}/metrics`)).status).toBe(200); // protectMetrics: false
  });

  it('enrollment, renaming and deletion need the admin token', async () => {
    const user = { authorization: `Bearer ${TOKEN}` };
    const r1 = await fetch(`${base}/api/people?name=x`, {
      method: 'POST',
      headers: { ...user, 'content-type': 'image/jpeg' },
      body: 'x',
    });
    expect(r1.status).toBe(403);
    expect(((await r1.json()) as { error: string }).error).toContain('admin token');
    expect((await fetch(`${base}/api/people/1`, { method: 'DELETE', headers: user })).status).toBe(403);
    // with the admin token the request reaches the API (and fails on its content, not on access)
    const r2 = await fetch(`${base}/api/people?name=x`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'image/jpeg' },
      body: 'not an image',
    });
    expect(r2.status).toBe(422);
    // reading people is a user right
    expect((await fetch(`${base}/api/people`, { headers: user })).status).toBe(200);
  });

  it('feedback on alerts and its undo need the admin token; reading it is a user right', async () => {
    const user = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
    const admin = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
    const body = JSON.stringify({ verdict: 'wrong' });
    for (const [method, path] of [
      ['POST', '/api/alerts/1/feedback'],
      ['POST', '/api/alerts/1/ignore'],
      ['DELETE', '/api/feedback/1'],
    ] as const) {
      const r = await fetch(`${base}${path}`, {
        method,
        headers: user,
        body: method === 'POST' ? body : undefined,
      });
      expect(r.status, `${method} ${path}`).toBe(403);
      expect(((await r.json()) as { error: string }).error).toContain('feedback need the admin token');
    }
    // with the admin token it reaches the API: there is no alert 1
    const r = await fetch(`${base}/api/alerts/1/feedback`, { method: 'POST', headers: admin, body });
    expect(r.status).toBe(404);
    expect((await fetch(`${base}/api/feedback`, { headers: user })).status).toBe(200);
  });

  it('the WebSocket needs the token too', async () => {
    const ws = `ws://127.0.0.1:${vigil.address.port}/ws`;
    expect(await wsStatus(ws)).toBe(401);
    expect(await wsStatus(`${ws}?token=${TOKEN}`)).toBe(101);
    expect(await wsStatus(ws, { authorization: `Bearer ${TOKEN}` })).toBe(101);
  });

  it('CORS is closed: cross-origin requests and WebSockets are refused, no CORS headers', async () => {
    const r = await fetch(`${base}/api/streams`, {
      headers: { authorization: `Bearer ${TOKEN}`, origin: 'http://evil.example' },
    });
    expect(r.status).toBe(403);
    expect(r.headers.get('access-control-allow-origin')).toBeNull();
    const pre = await fetch(`${base}/api/people`, {
      method: 'OPTIONS',
      headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(pre.status).toBe(403);
    expect(
      await wsStatus(`ws://127.0.0.1:${vigil.address.port}/ws?token=${TOKEN}`, {
        origin: 'http://evil.example',
      }),
    ).toBe(403);
    // the page's own origin is fine
    const same = await fetch(`${base}/api/streams`, {
      headers: { authorization: `Bearer ${TOKEN}`, origin: base },
    });
    expect(same.status).toBe(200);
  });

  it('an allowed origin gets CORS headers and a preflight answer', async () => {
    const v = await Vigil.start(
      cfg({ auth: { token: TOKEN, allowedOrigins: ['http://console.example:3000'] } }),
    );
    try {
      const b = `http://127.0.0.1:${v.address.port}`;
      const pre = await fetch(`${b}/api/streams`, {
        method: 'OPTIONS',
        headers: { origin: 'http://console.example:3000' },
      });
      expect(pre.status).toBe(204);
      expect(pre.headers.get('access-control-allow-origin')).toBe('http://console.example:3000');
      expect(pre.headers.get('access-control-allow-headers')).toContain('authorization');
    } finally {
      await v.stop();
    }
  });

  it('uploads over the configured limit are refused with 413', async () => {
    const v = await Vigil.start(cfg({ maxUploadBytes: 4096 }));
    try {
      const r = await fetch(`http://127.0.0.1:${v.address.port}/api/identify`, {
        method: 'POST',
        headers: { 'content-type': 'image/jpeg' },
        body: Buffer.alloc(10_000),
      });
      expect(r.status).toBe(413);
      expect(((await r.json()) as { error: string }).error).toContain('4096');
    } finally {
      await v.stop();
    }
  });
});
