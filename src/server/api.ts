import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { enrollFromAlert } from '../faces/alert-enroll.js';
import type { AlertStore } from '../faces/alerts.js';
import type { AuditLog } from '../faces/audit.js';
import { GalleryError } from '../faces/gallery/gallery.js';
import { decodeUtf8 } from '../faces/person-name.js';
import { ImageError } from '../util/image.js';
import type { FaceService } from '../faces/service.js';
import type { UnknownStore } from '../faces/unknowns/store.js';
import { auditRequest, createAuditRoutes, type Requester } from './api-audit.js';
import { createUnknownRoutes } from './api-unknowns.js';
import { requestUrl } from './auth.js';
import { strictQueryParam } from './query.js';

/** An API error with its HTTP status. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface ApiDeps {
  streams: () => unknown;
  health: () => unknown;
  /** Present when the pipeline recognises faces. */
  faces?: { service: FaceService; alerts: AlertStore; unknowns?: UnknownStore; audit?: AuditLog };
  /** A JPEG of a face on a live camera now (a track, or the largest face). */
  liveFace?: (stream: string, trackId?: number) => Promise<Buffer>;
  /** Present when the pipeline has a style stage: the styles viewers may pick, and their thumbnails. */
  styles?: { list: () => unknown[]; thumbnail: (name: string) => Buffer | null };
  maxBodyBytes: number;
  /** Who sent a request (the audit log's actor) and whether they may act as admin; default: local admin. */
  requester?: (req: IncomingMessage) => Requester;
  log?: (msg: string, err?: unknown) => void;
  /** What is not Vigil's error (a client that went away mid-upload). */
  info?: (msg: string) => void;
}

/** The client closed the connection before its request was read: not an error of Vigil's. */
function clientGone(req: IncomingMessage, e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return (
    req.destroyed &&
    (code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || (e as Error).message === 'aborted')
  );
}

type Handler = (req: IncomingMessage, m: RegExpExecArray, url: URL) => Promise<Reply>;
type Reply = { status: number; json?: unknown; body?: Buffer; type?: string };

function send(res: ServerResponse, r: Reply): void {
  if (r.body) {
    res.writeHead(r.status, {
      'content-type': r.type ?? 'application/octet-stream',
      'content-length': r.body.length,
      'cache-control': 'no-cache',
    });
    res.end(r.body);
    return;
  }
  if (r.json === undefined) {
    res.writeHead(r.status);
    res.end();
    return;
  }
  const text = JSON.stringify(r.json);
  res.writeHead(r.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** Reads a request body, refusing more than `limit` bytes (413) without buffering the excess. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  if (declared > limit) {
    req.resume();
    throw new HttpError(413, `body of ${declared} bytes exceeds the limit of ${limit}`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > limit) {
      req.resume();
      throw new HttpError(413, `body exceeds the limit of ${limit} bytes`);
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

async function imageBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const type =
    String(req.headers['content-type'] ?? '')
      .split(';')[0]
      ?.trim() ?? '';
  if (!/^image\/|^application\/octet-stream$/.test(type)) {
    throw new HttpError(
      415,
      `send the image as the request body with Content-Type image/jpeg, image/png or image/webp (got "${type || 'none'}")`,
    );
  }
  const b = await readBody(req, limit);
  if (!b.length) throw new HttpError(400, 'the request body is empty: send an image');
  return b;
}

async function jsonBody<T>(req: IncomingMessage, limit: number, schema: z.ZodType<T>): Promise<T> {
  const type = String(req.headers['content-type'] ?? '');
  if (!type.startsWith('application/json'))
    throw new HttpError(415, 'send JSON with Content-Type application/json');
  const text = decodeUtf8(await readBody(req, limit), 'the body');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new HttpError(400, 'the body is not valid JSON');
  }
  const r = schema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new HttpError(400, `invalid body: ${i?.path.join('.') || '(root)'}: ${i?.message}`);
  }
  return r.data;
}

const id = (s: string | undefined) => {
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n <= 0) throw new HttpError(400, `invalid id "${s}"`);
  return n;
};

const Base64Image = z
  .string()
  .min(1)
  .max(30_000_000)
  .regex(/^[A-Za-z0-9+/=\s]+$/, 'must be base64');

/** The JSON/HTTP API under /api/. Returns false when the path is not an API path. */
export function createApi(d: ApiDeps): (req: IncomingMessage, res: ServerResponse) => boolean {
  const faces = () => {
    if (!d.faces)
      throw new HttpError(
        409,
        'face recognition is not enabled: run a pipeline with a recognize stage (pipeline: recognize)',
      );
    return d.faces;
  };
  const limit = d.maxBodyBytes;
  const routes: Array<[string, RegExp, Handler]> = [
    ['GET', /^\/api\/streams$/, async () => ({ status: 200, json: d.streams() })],
    ['GET', /^\/api\/health$/, async () => ({ status: 200, json: d.health() })],
    ['GET', /^\/api\/styles$/, async () => ({ status: 200, json: d.styles?.list() ?? [] })],
    [
      'GET',
      /^\/api\/styles\/([a-z0-9_-]{1,48})\/thumbnail\.jpg$/,
      async (_req, m) => {
        const jpeg = d.styles?.thumbnail(m[1] as string);
        if (!jpeg) throw new HttpError(404, `no style "${m[1]}"`);
        return { status: 200, body: jpeg, type: 'image/jpeg' };
      },
    ],
    [
      'GET',
      /^\/api\/people$/,
      async () => ({
        status: 200,
        json: faces()
          .service.gallery.list()
          .map((p) => ({ ...p, thumbnail_url: `/api/people/${p.id}/thumbnail.jpg` })),
      }),
    ],
    [
      'POST',
      /^\/api\/people$/,
      async (req) => {
        const name = strictQueryParam(req, 'name');
        if (name === null)
          throw new HttpError(400, 'name is required: POST /api/people?name=NAME with the photo as the body');
        const f = faces();
        return { status: 201, json: await f.service.enroll(name, [await imageBody(req, limit)]) };
      },
    ],
    [
      'POST',
      /^\/api\/people\/from-alert\/(\d+)$/,
      async (req, m) => {
        const f = faces();
        const name = strictQueryParam(req, 'name');
        if (name === null) throw new HttpError(400, 'name is required');
        return { status: 201, json: await enrollFromAlert(f.service, f.alerts, id(m[1]), name) };
      },
    ],
    [
      'POST',
      /^\/api\/people\/from-stream\/([A-Za-z0-9_-]{1,64})$/,
      async (req, m, url) => {
        const f = faces();
        if (!d.liveFace) throw new HttpError(409, 'live enrollment is not available');
        const name = strictQueryParam(req, 'name');
        if (name === null) throw new HttpError(400, 'name is required');
        const track = url.searchParams.get('track');
        const jpeg = await d.liveFace(m[1] as string, track === null ? undefined : id(track));
        return { status: 201, json: await f.service.enroll(name, [jpeg]) };
      },
    ],
    [
      'GET',
      /^\/api\/people\/(\d+)$/,
      async (_r, m) => ({ status: 200, json: faces().service.gallery.person(id(m[1])) }),
    ],
    [
      'PATCH',
      /^\/api\/people\/(\d+)$/,
      async (req, m) => {
        const body = await jsonBody(req, 64 * 1024, z.object({ name: z.string() }).strict());
        return { status: 200, json: faces().service.gallery.rename(id(m[1]), body.name) };
      },
    ],
    [
      'DELETE',
      /^\/api\/people\/(\d+)$/,
      async (_r, m) => {
        faces().service.gallery.delete(id(m[1]));
        return { status: 204 };
      },
    ],
    [
      'POST',
      /^\/api\/people\/(\d+)\/photos$/,
      async (req, m) => ({
        status: 201,
        json: await faces().service.addPhoto(id(m[1]), await imageBody(req, limit)),
      }),
    ],
    [
      'GET',
      /^\/api\/people\/(\d+)\/thumbnail\.jpg$/,
      async (_r, m) => ({
        status: 200,
        body: faces().service.gallery.thumbnail(id(m[1])),
        type: 'image/jpeg',
      }),
    ],
    [
      'POST',
      /^\/api\/identify$/,
      async (req) => ({
        status: 200,
        json: { faces: await faces().service.identify(await imageBody(req, limit)) },
      }),
    ],
    [
      'POST',
      /^\/api\/verify$/,
      async (req, _m, url) => {
        const f = faces();
        const person = url.searchParams.get('person');
        if (person !== null)
          return { status: 200, json: await f.service.verifyPerson(await imageBody(req, limit), id(person)) };
        const body = await jsonBody(req, limit, z.object({ a: Base64Image, b: Base64Image }).strict());
        return {
          status: 200,
          json: await f.service.verify(Buffer.from(body.a, 'base64'), Buffer.from(body.b, 'base64')),
        };
      },
    ],
    [
      'GET',
      /^\/api\/alerts$/,
      async (_r, _m, url) => {
        const q = (k: string) => url.searchParams.get(k) ?? undefined;
        const before = q('before');
        const lim = q('limit');
        return {
          status: 200,
          json: faces().alerts.list({
            before: before ? id(before) : undefined,
            after: q('after') ? id(q('after')) : undefined,
            limit: lim ? Math.max(1, Math.min(500, Number(lim) || 50)) : undefined,
            camera: q('camera'),
            label: q('label'),
          }),
        };
      },
    ],
    [
      'GET',
      /^\/api\/alerts\/(\d+)\/snapshot\.jpg$/,
      async (_r, m) => {
        const snap = faces().alerts.snapshot(id(m[1]));
        if (!snap) throw new HttpError(404, `alert ${m[1]} has no snapshot`);
        return { status: 200, body: snap, type: 'image/jpeg' };
      },
    ],
  ];

  const requester = (req: IncomingMessage): Requester =>
    d.requester?.(req) ?? { actor: 'local', admin: true };
  routes.push(
    ...createUnknownRoutes({
      faces: () => {
        const f = faces();
        if (!f.unknowns) throw new HttpError(409, 'the unknown-face store is not enabled');
        return { unknowns: f.unknowns, gallery: f.service.gallery };
      },
    }),
    ...createAuditRoutes({
      audit: () => {
        const a = faces().audit;
        if (!a) throw new HttpError(409, 'the audit log is not enabled');
        return a;
      },
      requester,
    }),
  );

  return (req, res) => {
    const url = requestUrl(req);
    if (!url?.pathname.startsWith('/api/')) return false;
    const method = req.method ?? 'GET';
    const matching = routes.filter(([, re]) => re.test(url.pathname));
    const route = matching.find(([m]) => m === method || (m === 'GET' && method === 'HEAD'));
    const done = (r: Reply) => {
      if (!res.headersSent) send(res, r);
    };
    if (!route) {
      req.resume();
      done(
        matching.length
          ? {
              status: 405,
              json: {
                error: `method ${method} not allowed on ${url.pathname} (allowed: ${matching.map(([m]) => m).join(', ')})`,
              },
            }
          : { status: 404, json: { error: `no API endpoint ${url.pathname}` } },
      );
      return true;
    }
    const [, re, handler] = route;
    const audit = d.faces?.audit;
    const record = audit
      ? auditRequest(audit, requester(req), method, url.pathname, () => d.faces?.service.gallery)
      : undefined;
    handler(req, re.exec(url.pathname) as RegExpExecArray, url)
      .then((r) => {
        try {
          record?.(r);
        } catch (e) {
          d.log?.(`API ${method} ${url.pathname}: done, but its audit entry was not written`, e);
        }
        done(r);
      })
      .catch((e: unknown) => {
        const code = (e as { code?: unknown }).code;
        if (clientGone(req, e)) {
          d.info?.(
            `API ${method} ${url.pathname}: the client closed the connection before its request was read`,
          );
        } else if (e instanceof HttpError || e instanceof GalleryError || e instanceof ImageError) {
          done({ status: e.status, json: { error: e.message } });
        } else if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
          d.log?.(`API ${method} ${url.pathname}: gallery database busy`, e);
          done({
            status: 503,
            json: {
              error: 'the gallery database is locked by another process; nothing was changed, try again',
            },
          });
        } else if (code === 'SQLITE_FULL' || code === 'SQLITE_IOERR_WRITE' || code === 'SQLITE_IOERR') {
          d.log?.(`API ${method} ${url.pathname}: cannot write the gallery`, e);
          done({
            status: 507,
            json: { error: `cannot write the gallery database (${code}: disk full?); nothing was changed` },
          });
        } else {
          d.log?.(`API ${method} ${url.pathname} failed`, e);
          done({ status: 500, json: { error: `internal error: ${(e as Error).message}` } });
        }
      });
    return true;
  };
}
