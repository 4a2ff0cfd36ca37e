/**
 * The /api routes alone: createApi mounted on a bare fastify server (no Vigil, no guard, no
 * pipeline, no ffmpeg) over a real FaceService (real models, a SQLite gallery in a temporary folder), a real
 * AlertStore and AuditLog in the same database. A second API without faces answers 409.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import Fastify, { type FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import { AlertStore } from '../../src/faces/alerts.js';
import { AuditLog } from '../../src/faces/audit.js';
import { openFaces } from '../../src/faces/open.js';
import { type ApiDeps, createApi } from '../../src/server/api.js';
import { cropJpeg, decodeImage } from '../../src/util/image.js';
import { samplePhoto } from '../helpers/images.js';

const LIMIT = 256 * 1024;
const NOT_ENABLED =
  'face recognition is not enabled: run a pipeline with a recognize stage (pipeline: recognize)';

interface Res {
  status: number;
  type: string;
  length: string | null;
  json: unknown;
  body: Buffer;
}
const errorOf = (r: Res) => (r.json as { error?: string } | undefined)?.error ?? '';

/** Serves only the API; a path outside it gets 418 so the test sees that the API declined it. */
async function mount(deps: ApiDeps): Promise<{ server: FastifyInstance; base: string }> {
  const app = Fastify({ forceCloseConnections: true });
  createApi(deps).register(app);
  app.setNotFoundHandler((_req, reply) => reply.code(418).type('text/plain').send('not an API path'));
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { server: app, base: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` };
}

async function call(base: string, method: string, path: string, body?: Buffer | string, type?: string) {
  const headers: Record<string, string> = type ? { 'content-type': type } : {};
  const payload = typeof body === 'string' || body === undefined ? body : new Uint8Array(body);
  const r = await fetch(`${base}${path}`, { method, headers, body: payload });
  const buf = Buffer.from(await r.arrayBuffer());
  const ct = r.headers.get('content-type') ?? '';
  return {
    status: r.status,
    type: ct,
    length: r.headers.get('content-length'),
    body: buf,
    json:
      /^application\/(problem\+)?json/.test(ct) && buf.length ? JSON.parse(buf.toString('utf8')) : undefined,
  } satisfies Res;
}

/** A chunked upload (no Content-Length) of `chunks` x `size` bytes; `abort` destroys it midway. */
function streamUpload(url: string, chunks: number, size: number, abort = false): Promise<Res | 'aborted'> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': 'image/jpeg' } }, (res) => {
      const got: Buffer[] = [];
      res.on('data', (c: Buffer) => got.push(c));
      res.on('end', () => {
        const body = Buffer.concat(got);
        const type = String(res.headers['content-type'] ?? '');
        resolve({ status: res.statusCode ?? 0, type, length: null, body, json: JSON.parse(String(body)) });
      });
    });
    req.on('error', (e) => (abort ? resolve('aborted') : reject(e)));
    let sent = 0;
    const next = () => {
      if (abort && sent === chunks >> 1) {
        req.destroy();
        return resolve('aborted');
      }
      if (sent++ === chunks) return req.end();
      if (req.write(Buffer.alloc(size, 7))) setImmediate(next);
      else req.once('drain', next);
    };
    next();
  });
}

describe('API routes on a plain node:http server (real FaceService, AlertStore and AuditLog)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-api-routes-'));
  const errors: string[] = [];
  const infos: string[] = [];
  let faces: Awaited<ReturnType<typeof openFaces>>;
  let alerts: AlertStore;
  let on: { server: FastifyInstance; base: string };
  let off: { server: FastifyInstance; base: string };
  /** One face cut from a sample photo of @vladmandic/face-api (the photo itself has several). */
  let face: Buffer;

  beforeAll(async () => {
    const config = validateConfig({
      log: { level: 'silent' },
      pipeline: 'recognize',
      dataDir: dir,
      inference: { workers: 1 },
      streams: [{ id: 'cam', lavfi: 'testsrc2=size=320x180:rate=5', width: 320, height: 180 }],
    });
    faces = await openFaces(config);
    alerts = new AlertStore(faces.gallery.db);
    const common = {
      streams: () => [{ id: 'cam', state: 'running' }],
      health: () => ({ status: 'ok', pipeline: 'none' }),
      maxBodyBytes: LIMIT,
      log: (m: string) => errors.push(m),
      info: (m: string) => infos.push(m),
    };
    on = await mount({
      ...common,
      faces: { service: faces.service, alerts, audit: new AuditLog(faces.gallery.db) },
    });
    off = await mount(common);
    const img = await decodeImage(readFileSync(samplePhoto(1)));
    const found = await faces.service.engine.detect(img);
    expect(found.length).toBeGreaterThan(1);
    face = await cropJpeg(img, found[0]?.box as [number, number, number, number], { margin: 0.5, size: 300 });
  }, 120_000);

  afterAll(async () => {
    for (const s of [on?.server, off?.server]) await s?.close();
    await faces?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('404 names an unknown path, 405 lists the allowed methods, HEAD uses the GET route', async () => {
    const none = await call(on.base, 'GET', '/api/nothing-here');
    const detail = 'no API endpoint /api/nothing-here';
    expect([none.status, none.type, none.json]).toEqual([
      404,
      'application/problem+json; charset=utf-8',
      { type: 'about:blank', title: 'Not Found', status: 404, detail, error: detail },
    ]);
    // \d+ ids only: another path, not a bad id
    expect((await call(on.base, 'GET', '/api/people/abc')).status).toBe(404);
    const put = await call(on.base, 'PUT', '/api/people');
    expect(put.status).toBe(405);
    expect(errorOf(put)).toBe('method PUT not allowed on /api/people (allowed: GET, POST)');
    const post = await call(on.base, 'POST', '/api/people/3');
    expect(errorOf(post)).toBe('method POST not allowed on /api/people/3 (allowed: GET, PATCH, DELETE)');
    const get = await call(on.base, 'GET', '/api/streams');
    expect(get.json).toEqual([{ id: 'cam', state: 'running' }]);
    const head = await call(on.base, 'HEAD', '/api/streams');
    expect([head.status, head.type, head.length]).toEqual([200, get.type, String(get.body.length)]);
    expect(head.body.length).toBe(0);
    const outside = await call(on.base, 'GET', '/metrics');
    expect([outside.status, outside.body.toString()]).toEqual([418, 'not an API path']);
  });

  it('without faces: 409 on every face route, the other routes answer', async () => {
    for (const [method, path] of [
      ['GET', '/api/people'],
      ['DELETE', '/api/people/1'],
      ['GET', '/api/people/1/thumbnail.jpg'],
      ['POST', '/api/identify'],
      ['GET', '/api/alerts'],
      ['GET', '/api/alerts/1/snapshot.jpg'],
    ] as const) {
      const r = await call(off.base, method, path);
      expect([method, path, r.status, errorOf(r)]).toEqual([method, path, 409, NOT_ENABLED]);
    }
    expect((await call(off.base, 'GET', '/api/health')).json).toEqual({ status: 'ok', pipeline: 'none' });
    expect((await call(off.base, 'GET', '/api/styles')).json).toEqual([]);
    const style = await call(off.base, 'GET', '/api/styles/mosaic/thumbnail.jpg');
    expect([style.status, errorOf(style)]).toEqual([404, 'no style "mosaic"']);
  });

  it('body errors: 415 for the wrong type, 400 empty or invalid, 413 over the limit; nothing stored', async () => {
    const b = on.base;
    const noName = await call(b, 'POST', '/api/people', face, 'image/jpeg');
    expect(errorOf(noName)).toBe('name is required: POST /api/people?name=NAME with the photo as the body');
    const text = await call(b, 'POST', '/api/people?name=X', 'hello', 'text/plain');
    expect(text.status).toBe(415);
    expect(errorOf(text)).toContain('(got "text/plain")');
    const empty = await call(b, 'POST', '/api/people?name=X', Buffer.alloc(0), 'image/jpeg');
    expect([empty.status, errorOf(empty)]).toEqual([400, 'the request body is empty: send an image']);
    const big = await call(b, 'POST', '/api/identify', Buffer.alloc(LIMIT + 1), 'image/jpeg');
    expect([big.status, errorOf(big)]).toEqual([
      413,
      `body of ${LIMIT + 1} bytes exceeds the limit of ${LIMIT}`,
    ]);
    const streamed = await streamUpload(`${b}/api/identify`, 40, 8192);
    expect(streamed).toMatchObject({
      status: 413,
      json: { error: `body exceeds the limit of ${LIMIT} bytes` },
    });
    const notJson = await call(b, 'PATCH', '/api/people/1', '{"name":"Y"}', 'text/plain');
    expect([notJson.status, errorOf(notJson)]).toEqual([415, 'send JSON with Content-Type application/json']);
    const broken = await call(b, 'PATCH', '/api/people/1', '{"name":', 'application/json');
    expect([broken.status, errorOf(broken)]).toEqual([400, 'the body is not valid JSON']);
    const extra = await call(b, 'PATCH', '/api/people/1', '{"name":"Y","x":1}', 'application/json');
    expect(extra.status).toBe(400);
    expect(errorOf(extra)).toMatch(/^invalid body: \(root\): /);
    const zero = await call(b, 'GET', '/api/people/0');
    expect([zero.status, errorOf(zero)]).toEqual([400, 'invalid id "0"']);
    expect((await call(b, 'GET', '/api/people')).json).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('enroll -> list -> rename -> identify -> thumbnail -> delete -> 404, each action audited', async () => {
    const b = on.base;
    const made = await call(b, 'POST', '/api/people?name=Ada', face, 'image/jpeg');
    expect(made.status, errorOf(made)).toBe(201);
    const id = (made.json as { id: number }).id;
    expect(made.json).toMatchObject({ id, name: 'Ada', photos: 1, embedded: 1 });
    const list = await call(b, 'GET', '/api/people');
    expect(list.json).toMatchObject([{ id, name: 'Ada', thumbnail_url: `/api/people/${id}/thumbnail.jpg` }]);
    const renamed = await call(
      b,
      'PATCH',
      `/api/people/${id}`,
      JSON.stringify({ name: 'Grace' }),
      'application/json',
    );
    expect([renamed.status, (renamed.json as { name: string }).name]).toEqual([200, 'Grace']);
    // the same face again: the worker matches it against the gallery it was just sent
    const seen = await call(b, 'POST', '/api/identify', face, 'image/jpeg');
    const identities = (seen.json as { faces: Array<{ identity: { personId: number; label: string } }> })
      .faces;
    expect(identities.map((f) => f.identity)).toMatchObject([{ personId: id, label: 'Grace' }]);
    const thumb = await call(b, 'GET', `/api/people/${id}/thumbnail.jpg`);
    expect([thumb.status, thumb.type]).toEqual([200, 'image/jpeg']);
    expect((await sharp(thumb.body).metadata()).format).toBe('jpeg');
    expect((await call(b, 'DELETE', `/api/people/${id}`)).status).toBe(204);
    const gone = await call(b, 'GET', `/api/people/${id}`);
    expect(gone.status).toBe(404);
    expect((await call(b, 'GET', `/api/people/${id}/thumbnail.jpg`)).status).toBe(404);
    const audit = (await call(b, 'GET', '/api/audit')).json as Array<{
      action: string;
      actor: string;
      name: string;
    }>;
    expect(audit.map((e) => [e.action, e.actor, e.name])).toEqual([
      ['delete', 'local', 'Grace'],
      ['rename', 'local', 'Grace'],
      ['enroll', 'local', 'Ada'],
    ]);
  });

  it('a gallery locked by another connection is 503, a full one 507; nothing stored', async () => {
    const other = new Database(join(dir, 'vigil.db'));
    other.exec('BEGIN EXCLUSIVE');
    try {
      const locked = await call(on.base, 'POST', '/api/people?name=Locked', face, 'image/jpeg');
      expect([locked.status, errorOf(locked)]).toEqual([
        503,
        'the gallery database is locked by another process; nothing was changed, try again',
      ]);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    const db = faces.gallery.db;
    db.exec('VACUUM'); // no free pages left from the person deleted before: the next write needs a new one
    db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true })}`);
    try {
      const full = await call(on.base, 'POST', '/api/people?name=Full', face, 'image/jpeg');
      expect(full.status).toBe(507);
      expect(errorOf(full)).toMatch(/^cannot write the gallery database \(SQLITE_FULL: disk full\?\)/);
    } finally {
      db.pragma('max_page_count = 1073741823');
    }
    expect((await call(on.base, 'GET', '/api/people')).json).toEqual([]);
    expect(errors.splice(0)).toEqual([
      'API POST /api/people: gallery database busy',
      'API POST /api/people: cannot write the gallery',
    ]);
  }, 30_000);

  it('a client that goes away mid-upload is reported at info, not as an error', async () => {
    infos.length = 0;
    expect(await streamUpload(`${on.base}/api/identify`, 20, 8192, true)).toBe('aborted');
    const deadline = Date.now() + 5000;
    while (!infos.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(infos).toEqual([
      'API POST /api/identify: the client closed the connection before its request was read',
    ]);
    expect(errors).toEqual([]);
  });

  it('alerts: listed newest first, the stored snapshot back byte for byte, 404 without one', async () => {
    const snap = await sharp(face).resize(96, 96).jpeg().toBuffer();
    const alert = { camera: 'door', sub_label: 'unknown', person_id: null, score: 0.2, track_id: 4 };
    const withSnap = alerts.add({ ...alert, start_time: 1_700_000_000 }, snap);
    const without = alerts.add({ ...alert, start_time: 1_700_000_010 }, undefined);
    const list = await call(on.base, 'GET', '/api/alerts');
    const rows = list.json as Array<{ id: number; has_snapshot: boolean; snapshot_url: string }>;
    expect(rows.map((a) => [a.id, a.has_snapshot])).toEqual([
      [without.id, false],
      [withSnap.id, true],
    ]);
    const got = await call(on.base, 'GET', rows[1]?.snapshot_url as string);
    expect([got.status, got.type, got.body.equals(snap)]).toEqual([200, 'image/jpeg', true]);
    const none = await call(on.base, 'GET', `/api/alerts/${without.id}/snapshot.jpg`);
    expect([none.status, errorOf(none)]).toEqual([404, `alert ${without.id} has no snapshot`]);
    const page = await call(on.base, 'GET', `/api/alerts?before=${without.id}`);
    expect((page.json as Array<{ id: number }>).map((a) => a.id)).toEqual([withSnap.id]);
    const bad = await call(on.base, 'GET', '/api/alerts?before=abc');
    expect([bad.status, errorOf(bad)]).toEqual([400, 'invalid id "abc"']);
  });
});
