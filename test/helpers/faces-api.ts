/**
 * A real Vigil (pipeline recognize, real models, SQLite in a temporary data directory) and a client
 * for its /api, shared by test/integration/faces-api-*.test.ts: `useFacesApi()` starts one per test
 * file (beforeAll) and stops it (afterAll).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { Vigil } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';
import { photo } from './faces.js';

/** server.maxUploadBytes's default. */
export const LIMIT = 20 * 1024 * 1024;

export interface Res {
  status: number;
  type: string;
  json: unknown;
  body: Buffer;
}

export interface FacesApi {
  vigil: Vigil;
  /** http://127.0.0.1:PORT/api */
  base: string;
  call(method: string, path: string, body?: Buffer | string, type?: string | null): Promise<Res>;
  json(method: string, path: string, v: unknown): Promise<Res>;
  /** A raw HTTP request whose Content-Length / body the test controls (fetch would fix them up). */
  rawRequest(
    path: string,
    headers: Record<string, string | number>,
    write: (send: (chunk: Buffer) => Promise<boolean>) => Promise<void>,
  ): Promise<{ status: number; error: string; sent: number }>;
}

export const errorOf = (r: Res) => (r.json as { error?: string } | undefined)?.error ?? '';
export const b64 = (b: Buffer) => b.toString('base64');

async function call(
  base: string,
  method: string,
  path: string,
  body?: Buffer | string,
  type: string | null = 'image/jpeg',
): Promise<Res> {
  const headers: Record<string, string> = {};
  if (type !== null && body !== undefined) headers['content-type'] = type;
  const payload = body === undefined || typeof body === 'string' ? body : new Uint8Array(body);
  const r = await fetch(`${base}${path}`, { method, body: payload, headers });
  const buf = Buffer.from(await r.arrayBuffer());
  const ct = r.headers.get('content-type') ?? '';
  return {
    status: r.status,
    type: ct,
    body: buf,
    json: /^application\/(problem\+)?json/.test(ct) ? JSON.parse(buf.toString('utf8')) : undefined,
  };
}

function rawRequest(
  url: string,
  headers: Record<string, string | number>,
  write: (send: (chunk: Buffer) => Promise<boolean>) => Promise<void>,
): Promise<{ status: number; error: string; sent: number }> {
  return new Promise((resolve, reject) => {
    let sent = 0;
    let answered = false;
    const req = request(url, { method: 'POST', headers }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        resolve({
          status: res.statusCode ?? 0,
          error: (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { error: string }).error,
          sent,
        });
        req.destroy();
      });
    });
    req.on('error', (e) => {
      if (!answered) reject(e);
    });
    const send = (chunk: Buffer) =>
      new Promise<boolean>((ok) => {
        if (answered || req.destroyed) return ok(false);
        sent += chunk.length;
        if (req.write(chunk)) ok(true);
        else req.once('drain', () => ok(true));
      });
    write(send).catch(reject);
  });
}

function startVigil(dir: string): Promise<Vigil> {
  return Vigil.start(
    validateConfig({
      server: { host: '127.0.0.1', port: 0 },
      log: { level: 'silent' },
      pipeline: 'recognize',
      dataDir: dir,
      inference: { workers: 1 },
      streams: [
        {
          id: 'cam',
          lavfi: 'testsrc2=size=320x180:rate=5',
          width: 320,
          height: 180,
          detectFps: 2,
          displayFps: 2,
        },
      ],
    }),
  );
}

/**
 * Starts Vigil for this file's tests (with whatever `alongside` prepares meanwhile) and stops it
 * after them. The returned object is filled in by beforeAll: read it inside tests only.
 */
export function useFacesApi(alongside?: () => Promise<void>): FacesApi {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-api-'));
  const api = {} as FacesApi;
  beforeAll(async () => {
    const [vigil] = await Promise.all([startVigil(dir), alongside?.()]);
    const base = `http://127.0.0.1:${vigil.address.port}/api`;
    Object.assign(api, {
      vigil,
      base,
      call: (method: string, path: string, body?: Buffer | string, type?: string | null) =>
        call(base, method, path, body, type),
      json: (method: string, path: string, v: unknown) =>
        call(base, method, path, typeof v === 'string' ? v : JSON.stringify(v), 'application/json'),
      rawRequest: (path: string, headers: Record<string, string | number>, write) =>
        rawRequest(`${base}${path}`, headers, write),
    } satisfies FacesApi);
  });
  afterAll(async () => {
    await api.vigil?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return api;
}

/** Enrolls Barack Obama, Biden (JPEG) and Alex (PNG) from the shared photos; their ids by short name. */
export async function enrollThree(api: FacesApi): Promise<Record<string, number>> {
  const ids: Record<string, number> = {};
  const r = await api.call('POST', '/people?name=Barack%20Obama', photo('obama', 'obama.jpg'));
  expect(r.status, errorOf(r)).toBe(201);
  expect(r.json).toMatchObject({ name: 'Barack Obama', photos: 1, embedded: 1 });
  ids.Obama = (r.json as { id: number }).id;
  const b = await api.call('POST', '/people?name=Biden', photo('biden', 'biden.jpg'));
  expect(b.status, errorOf(b)).toBe(201);
  ids.Biden = (b.json as { id: number }).id;
  const a = await api.call(
    'POST',
    '/people?name=Alex',
    photo('alex_lacamoire', 'alex-lacamoire.png'),
    'image/png',
  );
  expect(a.status, errorOf(a)).toBe(201);
  ids.Alex = (a.json as { id: number }).id;
  expect(new Set(Object.values(ids)).size).toBe(3);
  return ids;
}
