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
  const server = createServer((req, res) => {
    const url = requestUrl(req);
    if (!url) {
      req.resume();
      return json(res, 400, { error: 'malformed request URL' });
    }
    const path = url.pathname;
    if (!hostAllowed(req, d.hosts)) {
      req.resume();
      return json(res, 421, { error: hostRefusal(req) });
    }
    // CORS is closed unless an origin is allowed; cross-site requests are refused outright.
    if (!originAllowed(req, d.auth)) {
      req.resume();
      return json(res, 403, {
        error: `cross-origin request from ${req.headers.origin} refused (server.auth.allowedOrigins)`,
      });
    }
    if (req.headers.origin && d.auth.allowedOrigins.length) {
      res.setHeader('access-control-allow-origin', req.headers.origin);
      res.setHeader('vary', 'Origin');
      if (req.method === 'OPTIONS') {
        res.writeHead(204, {
          'access-control-allow-methods': 'GET, POST, PATCH, DELETE',
          'access-control-allow-headers': 'authorization, content-type',
          'access-control-max-age': '600',
        });
        return res.end();
      }
    }
    const access = accessOf(req, d.auth);
    // health is open (load balancers, probes) but without a token says only that Vigil is up
    if (path === '/api/health' && access === 'denied') {
      req.resume();
      return json(res, 200, { status: 'ok' });
    }
    const guarded =
      (path.startsWith('/api/') && path !== '/api/health') || (path === '/metrics' && d.auth.protectMetrics);
    if (guarded) {
      if (access === 'denied') {
        req.resume();
        return json(res, 401, { error: TOKEN_HELP });
      }
      const mutating = req.method !== 'GET' && req.method !== 'HEAD';
      if (mutating && ADMIN_PATHS.test(path) && d.auth.adminToken && access !== 'admin') {
        req.resume();
        return json(res, 403, {
          error: 'enrollment, renaming and deletion need the admin token (server.auth.adminToken)',
        });
      }
    }
    if (d.api(req, res)) return;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      req.resume();
      return json(res, 405, { error: `method ${req.method} not allowed on ${path}` });
    }
    if (path === '/metrics') {
      d.registry
        .metrics()
        .then((text) => {
          res.writeHead(200, { 'content-type': d.registry.contentType });
          res.end(text);
        })
        .catch((e: Error) => json(res, 500, { error: e.message }));
      return;
    }
    let rel: string;
    try {
      rel = path === '/' ? 'index.html' : decodeURIComponent(path.slice(1));
    } catch {
      return json(res, 400, { error: 'malformed URL' });
    }
    const file = normalize(join(d.staticDir, rel));
    if (!file.startsWith(d.staticDir + sep) || !existsSync(file) || !TYPES[extname(file)]) {
      return json(res, 404, { error: `not found: ${path}` });
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] as string, 'cache-control': 'no-cache' });
    if (req.method === 'HEAD') return res.end();
    createReadStream(file).pipe(res);
  });
  server.on('upgrade', (req, socket, head) => {
    const refuse = (status: string) => {
      socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    };
    if (requestUrl(req)?.pathname !== '/ws') return refuse('404 Not Found');
    if (!hostAllowed(req, d.hosts)) return refuse('421 Misdirected Request');
    if (!originAllowed(req, d.auth)) return refuse('403 Forbidden');
    if (accessOf(req, d.auth) === 'denied') return refuse('401 Unauthorized');
    d.onUpgrade(req, socket, head);
  });
  return server;
}
