import { createReadStream, existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import type { Registry } from 'prom-client';
import type { AuthConfig } from '../config/schema.js';
import { accessOf, type HostRule, hostAllowed, originAllowed, requestUrl } from './auth.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

export interface HttpDeps {
  registry: Registry;
  /** Folder of the built viewer (index.html, app.js). */
  staticDir: string;
  /** Handles /api/ requests (returns false for other paths). */
  api: (req: IncomingMessage, res: ServerResponse) => boolean;
  onUpgrade: (req: IncomingMessage, socket: import('node:stream').Duplex, head: Buffer) => void;
  auth: AuthConfig;
  /** The Host check (DNS rebinding): the listen address and server.allowedHosts. */
  hosts: HostRule;
}

const ADMIN_PATHS = /^\/api\/(people|unknowns)(\/|$)/;
const TOKEN_HELP = 'missing or wrong token: send "Authorization: Bearer <token>" or ?token=<token>';

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function hostRefusal(req: IncomingMessage): string {
  return `host "${req.headers.host ?? ''}" is not served here: use localhost or 127.0.0.1, or add the name to server.allowedHosts`;
}

/** HTTP: the static viewer, /metrics, a small JSON API, and the WebSocket upgrade at /ws. */
export function createHttpServer(d: HttpDeps): Server {
  const server = createServer((req, res) => handleRequest(d, req, res));
  server.on('upgrade', (req, socket, head) => {
    const refusal = upgradeRefusal(d, req);
    if (refusal) {
      socket.end(`HTTP/1.1 ${refusal}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      return;
    }
    d.onUpgrade(req, socket, head);
  });
  return server;
}

/** The checks in order, then the API, /metrics or the viewer's files. */
function handleRequest(d: HttpDeps, req: IncomingMessage, res: ServerResponse): void {
  const url = requestUrl(req);
  if (!url) {
    req.resume();
    json(res, 400, { error: 'malformed request URL' });
    return;
  }
  const path = url.pathname;
  if (refusedHostOrOrigin(d, req, res) || answeredPreflight(d, req, res)) return;
  if (refusedAccess(d, req, res, path)) return;
  if (d.api(req, res)) return;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    req.resume();
    json(res, 405, { error: `method ${req.method} not allowed on ${path}` });
    return;
  }
  if (path === '/metrics') serveMetrics(d.registry, res);
  else serveStatic(d.staticDir, req, res, path);
}

/** 421 for a Host that is not served (DNS rebinding), 403 for an origin that is not allowed. */
function refusedHostOrOrigin(d: HttpDeps, req: IncomingMessage, res: ServerResponse): boolean {
  if (!hostAllowed(req, d.hosts)) {
    req.resume();
    json(res, 421, { error: hostRefusal(req) });
    return true;
  }
  // CORS is closed unless an origin is allowed; cross-site requests are refused outright.
  if (!originAllowed(req, d.auth)) {
    req.resume();
    json(res, 403, {
      error: `cross-origin request from ${req.headers.origin} refused (server.auth.allowedOrigins)`,
    });
    return true;
  }
  return false;
}

/** An allowed origin gets its CORS headers; its preflight (OPTIONS) is answered here. */
function answeredPreflight(d: HttpDeps, req: IncomingMessage, res: ServerResponse): boolean {
  if (!req.headers.origin || !d.auth.allowedOrigins.length) return false;
  res.setHeader('access-control-allow-origin', req.headers.origin);
  res.setHeader('vary', 'Origin');
  if (req.method !== 'OPTIONS') return false;
  res.writeHead(204, {
    'access-control-allow-methods': 'GET, POST, PATCH, DELETE',
    'access-control-allow-headers': 'authorization, content-type',
    'access-control-max-age': '600',
  });
  res.end();
  return true;
}

/**
 * The token checks: /api/* (and /metrics with protectMetrics) need the token, changes to people
 * and unknown faces the admin token when one is set. /api/health is open (load balancers, probes)
 * but without a token says only that Vigil is up.
 */
function refusedAccess(d: HttpDeps, req: IncomingMessage, res: ServerResponse, path: string): boolean {
  const access = accessOf(req, d.auth);
  if (path === '/api/health' && access === 'denied') {
    req.resume();
    json(res, 200, { status: 'ok' });
    return true;
  }
  const guarded =
    (path.startsWith('/api/') && path !== '/api/health') || (path === '/metrics' && d.auth.protectMetrics);
  if (!guarded) return false;
  if (access === 'denied') {
    req.resume();
    json(res, 401, { error: TOKEN_HELP });
    return true;
  }
  const mutating = req.method !== 'GET' && req.method !== 'HEAD';
  if (mutating && ADMIN_PATHS.test(path) && d.auth.adminToken && access !== 'admin') {
    req.resume();
    json(res, 403, {
      error: 'enrollment, renaming and deletion need the admin token (server.auth.adminToken)',
    });
    return true;
  }
  return false;
}

function serveMetrics(registry: Registry, res: ServerResponse): void {
  registry
    .metrics()
    .then((text) => {
      res.writeHead(200, { 'content-type': registry.contentType });
      res.end(text);
    })
    .catch((e: Error) => json(res, 500, { error: e.message }));
}

/** A file of the built viewer (`/` is index.html); 404 outside `staticDir` or of an unknown type. */
function serveStatic(staticDir: string, req: IncomingMessage, res: ServerResponse, path: string): void {
  let rel: string;
  try {
    rel = path === '/' ? 'index.html' : decodeURIComponent(path.slice(1));
  } catch {
    json(res, 400, { error: 'malformed URL' });
    return;
  }
  const file = normalize(join(staticDir, rel));
  if (!file.startsWith(staticDir + sep) || !existsSync(file) || !TYPES[extname(file)]) {
    json(res, 404, { error: `not found: ${path}` });
    return;
  }
  res.writeHead(200, { 'content-type': TYPES[extname(file)] as string, 'cache-control': 'no-cache' });
  if (req.method === 'HEAD') res.end();
  else createReadStream(file).pipe(res);
}

/** Why a WebSocket upgrade is refused (the status line), or undefined to accept it. */
function upgradeRefusal(d: HttpDeps, req: IncomingMessage): string | undefined {
  if (requestUrl(req)?.pathname !== '/ws') return '404 Not Found';
  if (!hostAllowed(req, d.hosts)) return '421 Misdirected Request';
  if (!originAllowed(req, d.auth)) return '403 Forbidden';
  if (accessOf(req, d.auth) === 'denied') return '401 Unauthorized';
  return undefined;
}
