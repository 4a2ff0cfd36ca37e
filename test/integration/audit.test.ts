import { mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Vigil } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';
import type { AuditEntry } from '../../src/faces/audit.js';
import { requesterOf } from '../../src/server/api-audit.js';
import { facePhotosMissing, photo } from '../helpers/faces.js';
import { skipUnless } from '../helpers/requirements.js';

const TOKEN = 'user-token-0123456789';
const ADMIN = 'admin-token-0123456789';
const missing = facePhotosMissing();

type Line = { level: number; msg: string; audit?: AuditEntry };

// A real Vigil (recognize pipeline, real models and SQLite, both tokens): every admin action is in
// the audit log with who and when, GET /api/audit is for admins, one log line per action; a client
// that hangs up mid-upload is not logged as an error.
describe.skipIf(skipUnless(missing, 'audit log tests'))('audit log and client aborts', () => {
  let vigil: Vigil;
  let base: string;
  const lines: Line[] = [];
  const admin = { authorization: `Bearer ${ADMIN}` };

  beforeAll(async () => {
    const logger = pino({ level: 'debug' }, { write: (s: string) => lines.push(JSON.parse(s) as Line) });
    vigil = await Vigil.start(
      validateConfig({
        server: { host: '127.0.0.1', port: 0, auth: { token: TOKEN, adminToken: ADMIN } },
        pipeline: 'recognize',
        dataDir: mkdtempSync(join(tmpdir(), 'vigil-audit-')),
        inference: { backend: 'wasm' },
        streams: [
          { id: 'cam', lavfi: 'testsrc2=size=320x180:rate=5', width: 320, height: 180, detectFps: 1 },
        ],
      }),
      { logger },
    );
    base = `http://127.0.0.1:${vigil.address.port}`;
  });
  afterAll(() => vigil?.stop());

  const call = async (method: string, path: string, body?: Buffer | string, type = 'image/jpeg') => {
    const r = await fetch(`${base}${path}`, {
      method,
      headers: { ...admin, ...(body ? { 'content-type': type } : {}) },
      body,
    });
    return { status: r.status, json: (await r.json().catch(() => null)) as Record<string, unknown> };
  };

  it('records enroll, add-photo, rename, naming and forgetting unknown faces, delete: who, when, what', async () => {
    const t0 = Date.now();
    const e = await call('POST', '/api/people?name=Obama', photo('obama', 'obama2.jpg'));
    expect(e.status).toBe(201);
    const id = e.json.id as number;
    expect((await call('POST', `/api/people/${id}/photos`, photo('obama', 'obama1.jpg'))).status).toBe(422); // two faces: not recorded
    expect((await call('POST', `/api/people/${id}/photos`, photo('obama', 'obama.jpg'))).status).toBe(201);
    expect(
      (await call('PATCH', `/api/people/${id}`, JSON.stringify({ name: 'Barack' }), 'application/json'))
        .status,
    ).toBe(200);
    // Two unknown-face clusters from a real embedding of the enrolled face.
    const f = vigil.context.faces;
    if (!f) throw new Error('faces off');
    const m = f.gallery.matrix();
    const face = m.data.slice(0, m.dim);
    const other = Float32Array.from(face, (_v, i) => (i === 0 ? 1 : 0));
    const snap = photo('obama', 'obama2.jpg');
    const a = f.unknowns.addSighting({
      camera: 'cam',
      trackId: 1,
      time: Date.now(),
      embedding: face,
      snapshot: snap,
    });
    const b = f.unknowns.addSighting({
      camera: 'cam',
      trackId: 2,
      time: Date.now(),
      embedding: other,
      snapshot: snap,
    });
    expect(a.clusterId).not.toBe(b.clusterId);
    const named = await call('POST', `/api/unknowns/${a.clusterId}/name?name=barack&append=1`);
    expect(named.status, JSON.stringify(named.json)).toBe(201);
    expect((await call('DELETE', `/api/unknowns/${b.clusterId}`)).status).toBe(204);
    expect((await call('DELETE', `/api/people/${id}`)).status).toBe(204);
    expect((await call('DELETE', `/api/people/${id}`)).status).toBe(404); // not recorded

    const list = await fetch(`${base}/api/audit`, { headers: admin });
    expect(list.status).toBe(200);
    const entries = (await list.json()) as AuditEntry[];
    expect(entries.map((x) => [x.action, x.actor, x.personId, x.name])).toEqual([
      ['delete', 'adminToken', id, 'Barack'],
      ['forget-unknown', 'adminToken', null, null],
      ['name-unknown', 'adminToken', id, 'Barack'],
      ['rename', 'adminToken', id, 'Barack'],
      ['add-photo', 'adminToken', id, 'Obama'],
      ['enroll', 'adminToken', id, 'Obama'],
    ]);
    const [del, forget, name, rename, , enroll] = entries as AuditEntry[];
    expect(rename?.detail).toEqual({ from: 'Obama' });
    expect(enroll?.detail).toEqual({ source: 'upload', photos: 1 });
    expect(name?.clusterId).toBe(a.clusterId);
    expect(name?.detail).toEqual({ photos: 1, sightings: 1 });
    expect(forget?.clusterId).toBe(b.clusterId);
    expect(entries.every((x) => x.time >= t0 && x.time <= Date.now())).toBe(true);
    expect(del?.id).toBeGreaterThan(enroll?.id as number);

    // One log line per action, with the entry.
    const logged = lines.filter((l) => l.audit);
    expect(logged.map((l) => l.audit?.id).sort()).toEqual(entries.map((x) => x.id).sort());
    expect(logged.every((l) => l.level === 30)).toBe(true);
    expect(logged.map((l) => l.msg)).toContain('audit: rename by adminToken (Barack)');

    // Pages, newest first.
    const page1 = (await (
      await fetch(`${base}/api/audit?limit=4`, { headers: admin })
    ).json()) as AuditEntry[];
    const page2 = (await (
      await fetch(`${base}/api/audit?limit=4&before=${page1.at(-1)?.id}`, { headers: admin })
    ).json()) as AuditEntry[];
    expect([...page1, ...page2].map((x) => x.id)).toEqual(entries.map((x) => x.id));
    expect((await fetch(`${base}/api/audit?limit=0`, { headers: admin })).status).toBe(400);
  });

  it('GET /api/audit is for the admin token only', async () => {
    const user = await fetch(`${base}/api/audit`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(user.status).toBe(403);
    expect(((await user.json()) as { error: string }).error).toContain('admin token');
    expect((await fetch(`${base}/api/audit`)).status).toBe(401);
    expect(requesterOf('open', false)).toEqual({ actor: 'local', admin: true });
    expect(requesterOf('user', false)).toEqual({ actor: 'token', admin: true });
    expect(requesterOf('user', true)).toEqual({ actor: 'token', admin: false });
  });

  it('a client that hangs up in the middle of an upload is logged at info, not as an error', async () => {
    const errorsBefore = lines.filter((l) => l.level >= 50).length;
    const socket = connect(vigil.address.port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    socket.write(
      `POST /api/people?name=Halfway HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${ADMIN}\r\ncontent-type: image/jpeg\r\ncontent-length: 1000000\r\n\r\n`,
    );
    socket.write(photo('obama', 'obama2.jpg').subarray(0, 20_000));
    await new Promise((r) => setTimeout(r, 200));
    socket.destroy();
    const end = Date.now() + 5000;
    while (!lines.some((l) => l.msg?.includes('closed the connection')) && Date.now() < end)
      await new Promise((r) => setTimeout(r, 50));
    const aborted = lines.filter((l) => l.msg?.includes('closed the connection'));
    expect(aborted.map((l) => [l.level, l.msg])).toEqual([
      [30, 'API POST /api/people: the client closed the connection before its request was read'],
    ]);
    expect(lines.filter((l) => l.level >= 50).slice(errorsBefore)).toEqual([]);
    expect((await fetch(`${base}/api/health`)).status).toBe(200);
    expect(vigil.context.faces?.gallery.list()).toEqual([]);
  });
});
