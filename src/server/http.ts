/**
 * The HTTP server on fastify: the viewer's files (@fastify/static), /metrics, the API (api.ts) and
 * the WebSocket at /ws (@fastify/websocket), behind one onRequest guard that runs for every request,
 * upgrades included, before any route: the Host check (421, DNS rebinding), the origin check (403,
 * CORS closed unless allowed), the preflight of an allowed origin, and the tokens (auth.ts).
 */
import { existsSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { extname } from 'node:path';
import fastifyStatic from '@fastify/static';
import fastifyWebsocket from '@fastify/websocket';
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { Registry } from 'prom-client';
import type { WebSocket } from 'ws';
import type { AuthConfig } from '../config/schema.js';
import type { Api } from './api.js';
import { sendReply } from './api-mount.js';
import { accessOf, type HostRule, hostAllowed, originAllowed, requestUrl } from './auth.js';
import { problem } from './problem.js';

/** The viewer's file types; anything else in its folder is not served. */
const TYPES = new Set(['.html', '.js', '.css', '.map', '.png', '.svg']);

export interface HttpDeps {
  registry: Registry;
  /** Folder of the built viewer (index.html, app.js). */
  staticDir: string;
  api: Api;
  /** A viewer's WebSocket, upgraded at /ws once the guard let it through. */
  onSocket: (ws: WebSocket, req: IncomingMessage) => void;
  /** The largest message a viewer may send on the WebSocket. */
  maxWsPayload: number;
  auth: AuthConfig;
  /** The Host check (DNS rebinding): the listen address and server.allowedHosts. */
  hosts: HostRule;
}

/** Writes that change who is recognised (people, unknown faces, feedback on alerts), and style training. */
const ADMIN_PATHS =
  /^\/api\/(people|unknowns|feedback|styles|cluster)(\/|$)|^\/api\/alerts\/[^/]+\/(feedback|ignore)$/;
const TOKEN_HELP = 'missing or wrong token: send "Authorization: Bearer <token>" or ?token=<token>';

function hostRefusal(req: FastifyRequest): string {
  return `host "${req.headers.host ?? ''}" is not served here: use localhost or 127.0.0.1, or add the name to server.allowedHosts`;
}

const refuse = (reply: FastifyReply, status: number, message: string) => {
  reply.request.raw.resume();
  return sendReply(reply, problem(status, message));
};

/** The server, ready to listen (`app.listen`, or `app.server` for node:http). */
export async function createHttpServer(d: HttpDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    forceCloseConnections: true,
    // a URL that is no URL (bad percent-encoding, an overlong parameter): the guard never ran,
    // and nothing is served
    frameworkErrors: (e, req, reply) =>
      e.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? refuse(reply, 404, `no API endpoint ${requestUrl(req.raw)?.pathname ?? req.url}`)
        : refuse(reply, 400, 'malformed URL'),
  });
  await app.register(fastifyWebsocket, { options: { maxPayload: d.maxWsPayload } });
  app.addHook('onRequest', async (request, reply) => {
    if (refused(d, request, reply)) return reply;
  });
  app.setNotFoundHandler((request, reply) => {
    const path = requestUrl(request.raw)?.pathname ?? request.url;
    if (request.method !== 'GET' && request.method !== 'HEAD')
      return refuse(reply, 405, `method ${request.method} not allowed on ${path}`);
    return refuse(reply, 404, `not found: ${path}`);
  });
  app.setErrorHandler((e: FastifyError, _request, reply) => {
    const status = e.statusCode ?? 500;
    return refuse(reply, status, status >= 500 ? `internal error: ${e.message}` : e.message);
  });
  app.route({
    method: 'GET',
    url: '/ws',
    handler: (request, reply) => refuse(reply, 404, `not found: ${request.url.split('?')[0]}`),
    wsHandler: (socket, request) => d.onSocket(socket, request.raw),
  });
  d.api.register(app);
  app.get('/metrics', async (_request, reply) => {
    const text = await d.registry.metrics();
    return reply.type(d.registry.contentType).send(text);
  });
  if (existsSync(d.staticDir))
    await app.register(fastifyStatic, {
      root: d.staticDir,
      // a route per file of the built viewer, not a GET /* that would take /api/* paths from the
      // API's own 404 / 405
      wildcard: false,
      cacheControl: false,
      etag: false,
      lastModified: false,
      allowedPath: (path) => path === '/' || TYPES.has(extname(path)),
      setHeaders: (res) => res.setHeader('cache-control', 'no-cache'),
    });
  await app.ready();
  return app;
}

/** The guard's checks in order; true when it answered the request. */
function refused(d: HttpDeps, request: FastifyRequest, reply: FastifyReply): boolean {
  const url = requestUrl(request.raw);
  if (!url) {
    refuse(reply, 400, 'malformed request URL');
    return true;
  }
  if (request.ws && url.pathname !== '/ws') {
    refuse(reply, 404, `not found: ${url.pathname}`);
    return true;
  }
  return (
    refusedHostOrOrigin(d, request, reply) ||
    answeredPreflight(d, request, reply) ||
    refusedAccess(d, request, reply, url.pathname)
  );
}

/** 421 for a Host that is not served (DNS rebinding), 403 for an origin that is not allowed. */
function refusedHostOrOrigin(d: HttpDeps, request: FastifyRequest, reply: FastifyReply): boolean {
  if (!hostAllowed(request.raw, d.hosts)) {
    refuse(reply, 421, hostRefusal(request));
    return true;
  }
  // CORS is closed unless an origin is allowed; cross-site requests are refused outright.
  if (!originAllowed(request.raw, d.auth)) {
    refuse(
      reply,
      403,
      `cross-origin request from ${request.headers.origin} refused (server.auth.allowedOrigins)`,
    );
    return true;
  }
  return false;
}

/** An allowed origin gets its CORS headers; its preflight (OPTIONS) is answered here. */
function answeredPreflight(d: HttpDeps, request: FastifyRequest, reply: FastifyReply): boolean {
  const origin = request.headers.origin;
  if (!origin || !d.auth.allowedOrigins.length) return false;
  reply.header('access-control-allow-origin', origin).header('vary', 'Origin');
  if (request.method !== 'OPTIONS') return false;
  request.raw.resume();
  reply
    .code(204)
    .header('access-control-allow-methods', 'GET, POST, PUT, PATCH, DELETE')
    .header('access-control-allow-headers', 'authorization, content-type')
    .header('access-control-max-age', '600')
    .send();
  return true;
}

/**
 * The token checks: /api/* and /ws (and /metrics with protectMetrics) need the token, changes to
 * people and unknown faces the admin token when one is set. /api/health is open (load balancers,
 * probes) but without a token says only that Vigil is up.
 */
function refusedAccess(d: HttpDeps, request: FastifyRequest, reply: FastifyReply, path: string): boolean {
  const access = accessOf(request.raw, d.auth);
  if (path === '/api/health' && access === 'denied') {
    request.raw.resume();
    sendReply(reply, { status: 200, json: { status: 'ok' } });
    return true;
  }
  const guarded =
    (path.startsWith('/api/') && path !== '/api/health') ||
    path === '/ws' ||
    (path === '/metrics' && d.auth.protectMetrics);
  if (!guarded) return false;
  if (access === 'denied') {
    refuse(reply, 401, TOKEN_HELP);
    return true;
  }
  const mutating = request.method !== 'GET' && request.method !== 'HEAD';
  if (mutating && ADMIN_PATHS.test(path) && d.auth.adminToken && access !== 'admin') {
    refuse(
      reply,
      403,
      'enrollment, renaming, deletion and feedback need the admin token (server.auth.adminToken), and so does style training',
    );
    return true;
  }
  return false;
}
