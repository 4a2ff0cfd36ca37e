/**
 * The API's OpenAPI document and page on the real HTTP server (createHttpServer on fastify, with
 * tokens configured): /api/openapi.json validates as OpenAPI 3 (@seriousme/openapi-schema-validator),
 * lists every route of the route tables with its path parameters, is guarded by the token like the
 * rest of the API; an error is application/problem+json with the fields the document declares; the
 * API page, in Chromium, lists every route of the document.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Api, createApi } from '../../src/server/api.js';
import { createHttpServer } from '../../src/server/http.js';
import { openApiPath } from '../../src/server/openapi.js';
import { Problem } from '../../src/server/problem.js';
import { PROJECT_ROOT } from '../../src/util/paths.js';
import { browserUnavailable, launchBrowser } from '../helpers/browser.js';
import { skipUnless } from '../helpers/requirements.js';

const TOKEN = 'openapi-test-token-0123';
const ADMIN = 'openapi-test-admin-0123';
const PAGE = join(PROJECT_ROOT, 'dist', 'api-docs.html');

type Doc = {
  openapi: string;
  paths: Record<
    string,
    Record<string, { parameters: Array<{ name: string; in: string }>; responses: object }>
  >;
  components: { schemas: { Problem: { required: string[]; properties: Record<string, unknown> } } };
};

describe('OpenAPI document and API page (fastify server, tokens set)', () => {
  let app: FastifyInstance;
  let api: Api;
  let base: string;
  const bearer = { authorization: `Bearer ${TOKEN}` };

  beforeAll(async () => {
    api = createApi({
      streams: () => [],
      health: () => ({ status: 'ok', pipeline: 'none' }),
      maxBodyBytes: 1024,
      docsPage: () => (existsSync(PAGE) ? readFileSync(PAGE) : null),
    });
    app = await createHttpServer({
      registry: new Registry(),
      staticDir: join(PROJECT_ROOT, 'dist', 'viewer'),
      api,
      onSocket: (ws) => ws.close(),
      maxWsPayload: 1024,
      auth: { token: TOKEN, adminToken: ADMIN, allowedOrigins: [], protectMetrics: false },
      hosts: { listen: '127.0.0.1', allowed: [] },
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });
  afterAll(() => app?.close());

  it('validates as OpenAPI 3 and lists every route of the tables with its path parameters', async () => {
    const res = await fetch(`${base}/api/openapi.json`, { headers: bearer });
    expect(res.status).toBe(200);
    const doc = (await res.json()) as Doc;
    const result = await new Validator().validate(doc as unknown as object);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(doc.openapi).toMatch(/^3\./);
    const listed = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    );
    const tables = api.routes.map(([method, , , decl]) => `${method} ${openApiPath(decl.path)}`);
    expect(tables.length).toBeGreaterThan(25);
    expect(listed.sort()).toEqual([...tables].sort());
    for (const [method, , , decl] of api.routes) {
      const op = doc.paths[openApiPath(decl.path)]?.[method.toLowerCase()];
      const inPath = op?.parameters.filter((p) => p.in === 'path').map((p) => p.name);
      expect(inPath, `${method} ${decl.path}`).toEqual([...decl.path.matchAll(/:(\w+)/g)].map((m) => m[1]));
      expect(Object.keys(op?.responses ?? {}), `${method} ${decl.path}`).toContain(String(decl.ok[0]));
    }
  });

  it('the document and the page need the token; an error is problem+json with the documented fields', async () => {
    const doc = (await (await fetch(`${base}/api/openapi.json`, { headers: bearer })).json()) as Doc;
    for (const path of ['/api/openapi.json', '/api/docs']) {
      const r = await fetch(`${base}${path}`);
      expect([path, r.status, r.headers.get('content-type')]).toEqual([
        path,
        401,
        'application/problem+json; charset=utf-8',
      ]);
      const body = (await r.json()) as Record<string, unknown>;
      expect(Problem.parse(body)).toEqual(body);
      const declared = doc.components.schemas.Problem;
      expect(Object.keys(body).sort()).toEqual(Object.keys(declared.properties).sort());
      expect(declared.required.sort()).toEqual(Object.keys(body).sort());
      expect(body).toMatchObject({ status: 401, title: 'Unauthorized', type: 'about:blank' });
      expect(body.detail).toBe(body.error);
      expect(body.error).toContain('Bearer');
    }
    const missing = await fetch(`${base}/api/identify`, { method: 'PUT', headers: bearer });
    expect(await missing.json()).toMatchObject({
      status: 405,
      title: 'Method Not Allowed',
      error: 'method PUT not allowed on /api/identify (allowed: POST)',
    });
  });

  const noBrowser =
    browserUnavailable() ?? (existsSync(PAGE) ? null : `${PAGE} is not built (npm run build)`);
  it.skipIf(skipUnless(noBrowser, 'the API page in Chromium'))(
    'the API page, opened with ?token= as the viewer links it, lists every route of the document',
    async () => {
      const doc = (await (await fetch(`${base}/api/openapi.json`, { headers: bearer })).json()) as Doc;
      const expected = Object.entries(doc.paths).flatMap(([p, ops]) =>
        Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`),
      );
      const browser = await launchBrowser();
      try {
        const page = await browser.newPage();
        await page.goto(`${base}/api/docs?token=${TOKEN}`);
        await page.waitForSelector('details.op');
        const shown = await page.$$eval('details.op', (els) => els.map((e) => e.getAttribute('data-route')));
        expect(shown.sort()).toEqual(expected.sort());
        expect(await page.textContent('#summary')).toContain(`${expected.length} routes`);
        expect(new URL(page.url()).search).toBe(''); // the token left the address bar
      } finally {
        await browser.close();
      }
    },
    60_000,
  );
});
