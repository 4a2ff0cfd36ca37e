import { createReadStream, existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import type { Registry } from 'prom-client';

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
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** HTTP: the static viewer, /metrics, a small JSON API, and the WebSocket upgrade at /ws. */
export function createHttpServer(d: HttpDeps): Server {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
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
    if (new URL(req.url ?? '/', 'http://localhost').pathname === '/ws') d.onUpgrade(req, socket, head);
    else socket.destroy();
  });
  return server;
}
