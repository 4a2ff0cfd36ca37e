/**
 * The API's dispatcher over a declarative route table: a route is [method, path pattern, handler],
 * with nothing of node:http's response in the handler (it returns a Reply), so the same table can
 * be mounted on another server later. Here: matching (HEAD is served by the GET route), 404 and 405
 * replies, the audit hook, and the mapping of errors to statuses.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GalleryError } from '../faces/gallery/gallery.js';
import { ImageError } from '../util/image.js';
import { HttpError } from './api-body.js';
import { requestUrl } from './auth.js';

/** What a handler answers: JSON, a binary body with its type, or a bare status (204). */
export type Reply = { status: number; json?: unknown; body?: Buffer; type?: string };
/** `m` is the path pattern's match (its groups are the path parameters). */
export type Handler = (req: IncomingMessage, m: RegExpExecArray, url: URL) => Promise<Reply>;
export type Route = [method: string, path: RegExp, handler: Handler];

export interface RouterOptions {
  /** Prepares the audit entry of a request; returns what records it once the reply is known. */
  audit?: (req: IncomingMessage, method: string, path: string) => ((r: Reply) => void) | undefined;
  log?: (msg: string, err?: unknown) => void;
  /** What is not Vigil's error (a client that went away mid-upload). */
  info?: (msg: string) => void;
}

export function send(res: ServerResponse, r: Reply): void {
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

/** The route serving `method` on `path`, or the 404 / 405 (naming the allowed methods) reply. */
export function matchRoute(routes: Route[], method: string, path: string): Route | Reply {
  const matching = routes.filter(([, re]) => re.test(path));
  const route = matching.find(([m]) => m === method || (m === 'GET' && method === 'HEAD'));
  if (route) return route;
  if (!matching.length) return { status: 404, json: { error: `no API endpoint ${path}` } };
  return {
    status: 405,
    json: {
      error: `method ${method} not allowed on ${path} (allowed: ${matching.map(([m]) => m).join(', ')})`,
    },
  };
}

/** The client closed the connection before its request was read: not an error of Vigil's. */
function clientGone(req: IncomingMessage, e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return (
    req.destroyed &&
    (code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || (e as Error).message === 'aborted')
  );
}

/**
 * The reply to a failed request (undefined when the client is gone and nobody is left to answer).
 * Refusals keep their status and message; a locked gallery is 503 and a full disk 507, both saying
 * nothing was changed; anything else is logged and 500.
 */
export function errorReply(
  req: IncomingMessage,
  e: unknown,
  what: string,
  o: Pick<RouterOptions, 'log' | 'info'>,
): Reply | undefined {
  const code = (e as { code?: unknown }).code;
  if (clientGone(req, e)) {
    o.info?.(`${what}: the client closed the connection before its request was read`);
    return undefined;
  }
  if (e instanceof HttpError || e instanceof GalleryError || e instanceof ImageError)
    return { status: e.status, json: { error: e.message } };
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
    o.log?.(`${what}: gallery database busy`, e);
    return {
      status: 503,
      json: { error: 'the gallery database is locked by another process; nothing was changed, try again' },
    };
  }
  if (code === 'SQLITE_FULL' || code === 'SQLITE_IOERR_WRITE' || code === 'SQLITE_IOERR') {
    o.log?.(`${what}: cannot write the gallery`, e);
    return {
      status: 507,
      json: { error: `cannot write the gallery database (${code}: disk full?); nothing was changed` },
    };
  }
  o.log?.(`${what} failed`, e);
  return { status: 500, json: { error: `internal error: ${(e as Error).message}` } };
}

/** Serves `routes` under /api/; the returned function is false for a path that is not an API path. */
export function createRouter(
  routes: Route[],
  o: RouterOptions = {},
): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const url = requestUrl(req);
    if (!url?.pathname.startsWith('/api/')) return false;
    const method = req.method ?? 'GET';
    const done = (r: Reply | undefined) => {
      if (r && !res.headersSent) send(res, r);
    };
    const found = matchRoute(routes, method, url.pathname);
    if (!Array.isArray(found)) {
      req.resume();
      done(found);
      return true;
    }
    const [, re, handler] = found;
    const what = `API ${method} ${url.pathname}`;
    const record = o.audit?.(req, method, url.pathname);
    handler(req, re.exec(url.pathname) as RegExpExecArray, url)
      .then((r) => {
        try {
          record?.(r);
        } catch (e) {
          o.log?.(`${what}: done, but its audit entry was not written`, e);
        }
        done(r);
      })
      .catch((e: unknown) => done(errorReply(req, e, what, o)));
    return true;
  };
}
