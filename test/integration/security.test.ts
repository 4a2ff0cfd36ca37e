/**
 * #19 holes, reproduced against a real Vigil: DNS rebinding in the default (loopback, no token)
 * mode, short tokens from the environment, and what the open endpoints (/metrics, /api/health)
 * tell without a token. Includes the Host/Origin fuzz cases.
 */
import { request } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Vigil } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';
import { resolveAuth } from '../../src/server/auth.js';

const TOKEN = 'user-token-0123456789';
const ADMIN = 'admin-token-0123456789';

function config(server: Record<string, unknown>) {
  return validateConfig({
    server: { host: '127.0.0.1', port: 0, ...server },
    log: { level: 'silent' },
    dataDir: mkdtempSync(join(tmpdir(), 'vigil-security-')),
    streams: [{ id: 'cam', lavfi: 'testsrc2=size=320x180:rate=5', width: 320, height: 180, detectFps: 1 }],
  });
}

/** A raw request with any Host header (fetch does not let a caller set Host). */
function raw(
  port: number,
  o: { method?: string; path: string; host: string; origin?: string; body?: Buffer; type?: string },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host: o.host };
    if (o.origin) headers.origin = o.origin;
    if (o.type) headers['content-type'] = o.type;
    const req = request(
      { host: '127.0.0.1', port, method: o.method ?? 'GET', path: o.path, headers },
      (res) => {
        let body = '';
        res.on('data', (c) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

/** The status a WebSocket upgrade gets with this Host (101 when it opens). */
function upgradeStatus(port: number, host: string, origin?: string): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, {
      headers: { host, ...(origin ? { origin } : {}) },
    });
    ws.on('open', () => {
      ws.close();
      resolve(101);
    });
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('error', () => resolve(0));
  });
}

describe('DNS rebinding: the default mode (loopback, no token) answers only loopback Host names', () => {
  let vigil: Vigil;
  let port: number;
  beforeAll(async () => {
    vigil = await Vigil.start(config({ allowedHosts: ['vigil.lan', '*.cams.example'] }));
    port = vigil.address.port;
  });
  afterAll(() => vigil?.stop());

  it('the rebinding request of the issue (Host and Origin evil.example) gets 421 on the API, the page and the WebSocket', async () => {
    const evil = `evil.example:${port}`;
    const post = await raw(port, {
      method: 'POST',
      path: '/api/people?name=planted',
      host: evil,
      origin: `http://${evil}`,
      type: 'image/jpeg',
      body: Buffer.from('not really a jpeg'),
    });
    expect(post.status).toBe(421);
    expect(JSON.parse(post.body).error).toContain('server.allowedHosts');
    expect((await raw(port, { path: '/api/people', host: evil, origin: `http://${evil}` })).status).toBe(421);
    expect((await raw(port, { path: '/', host: evil })).status).toBe(421);
    expect(await upgradeStatus(port, evil, `http://${evil}`)).toBe(421);
  });

  it('loopback names and addresses, the listen address and allowedHosts are served', async () => {
    for (const host of [
      `localhost:${port}`,
      `127.0.0.1:${port}`,
      `[::1]:${port}`,
      `app.localhost:${port}`,
      'LOCALHOST',
    ])
      expect((await raw(port, { path: '/api/streams', host })).status, host).toBe(200);
    expect((await raw(port, { path: '/api/streams', host: `vigil.lan:${port}` })).status).toBe(200);
    expect((await raw(port, { path: '/api/streams', host: 'door.cams.example' })).status).toBe(200);
    expect(await upgradeStatus(port, `localhost:${port}`)).toBe(101);
  });

  it('fuzz: Host values that only look local are refused; the server stays up', async () => {
    const lookalikes = fc.constantFrom(
      'localhost.evil.example',
      '127.0.0.1.nip.io',
      '127.0.0.1.evil.example',
      'evil.example',
      'vigil.lan.evil.example',
      'cams.example',
      'x.localhost.evil.example',
      '[::1].evil.example',
      '0x7f000001.evil',
      'evil.example@127.0.0.1',
    );
    const ports = fc.constantFrom('', `:${port}`, ':1', ':');
    await fc.assert(
      fc.asyncProperty(lookalikes, ports, fc.boolean(), async (name, p, withOrigin) => {
        const host = `${name}${p}`;
        const r = await raw(port, {
          path: '/api/people',
          host,
          origin: withOrigin ? `http://${host}` : undefined,
        });
        // 421 for a foreign name; 400 where Node itself rejects the header as malformed
        expect([400, 421], `Host: ${host} -> ${r.status}`).toContain(r.status);
      }),
      { numRuns: 40 },
    );
    expect((await raw(port, { path: '/api/health', host: `localhost:${port}` })).status).toBe(200);
  });

  it('fuzz: a loopback Host with a foreign Origin is still refused (cross-site)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('http://evil.example', 'http://localhost.evil.example', 'null', 'http://127.0.0.1:1'),
        async (origin) => {
          const r = await raw(port, {
            method: 'POST',
            path: '/api/people?name=x',
            host: `127.0.0.1:${port}`,
            origin,
            type: 'image/jpeg',
            body: Buffer.from('x'),
          });
          expect(r.status).toBe(403);
        },
      ),
      { numRuns: 8 },
    );
  });
});

describe('tokens from the environment follow the config rule (16+ characters)', () => {
  it('a short VIGIL_TOKEN or VIGIL_ADMIN_TOKEN is refused naming the variable', () => {
    const auth = config({}).server.auth;
    expect(() => resolveAuth(auth, { VIGIL_TOKEN: 'a', VIGIL_ADMIN_TOKEN: ADMIN })).toThrow(
      /VIGIL_TOKEN: use at least 16 characters/,
    );
    expect(() => resolveAuth(auth, { VIGIL_TOKEN: TOKEN, VIGIL_ADMIN_TOKEN: 'b' })).toThrow(
      /VIGIL_ADMIN_TOKEN: use at least 16 characters/,
    );
    expect(resolveAuth(auth, { VIGIL_TOKEN: TOKEN, VIGIL_ADMIN_TOKEN: ADMIN })).toMatchObject({
      token: TOKEN,
      adminToken: ADMIN,
    });
  });

  it('the issue case: VIGIL_TOKEN=a VIGIL_ADMIN_TOKEN=b no longer passes the exposure check for 0.0.0.0', async () => {
    const saved = { t: process.env.VIGIL_TOKEN, a: process.env.VIGIL_ADMIN_TOKEN };
    process.env.VIGIL_TOKEN = 'a';
    process.env.VIGIL_ADMIN_TOKEN = 'b';
    try {
      await expect(Vigil.start(config({ host: '0.0.0.0' }))).rejects.toThrow(
        /VIGIL_TOKEN: use at least 16 characters/,
      );
    } finally {
      for (const [k, v] of [
        ['VIGIL_TOKEN', saved.t],
        ['VIGIL_ADMIN_TOKEN', saved.a],
      ] as const)
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
    }
  });
});

describe('open endpoints with tokens set: /metrics names nobody, /api/health says only its status', () => {
  let vigil: Vigil;
  let base: string;
  beforeAll(async () => {
    vigil = await Vigil.start(config({ auth: { token: TOKEN, adminToken: ADMIN } }));
    base = `http://127.0.0.1:${vigil.address.port}`;
  });
  afterAll(() => vigil?.stop());

  it('alerts count by stream and kind; no person label exists to fill', async () => {
    vigil.metrics.alerts.inc({ stream: 'cam', kind: 'known' });
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(/vigil_alerts_total\{stream="cam",kind="known"\} 1/);
    expect(text).not.toMatch(/person=/);
    // the label set is fixed: a name cannot be passed as a label
    expect(() => vigil.metrics.alerts.inc({ stream: 'cam', person: 'Anna' } as never)).toThrow();
  });

  it('health without a token: status only; with the token: the details', async () => {
    const open = (await (await fetch(`${base}/api/health`)).json()) as Record<string, unknown>;
    expect(open).toEqual({ status: 'ok' });
    const full = (await (
      await fetch(`${base}/api/health`, { headers: { authorization: `Bearer ${TOKEN}` } })
    ).json()) as Record<string, unknown>;
    expect(full).toMatchObject({ status: 'ok', pipeline: 'detect', streams: 1 });
  });
});
