/**
 * Mounts a route table (api-router.ts) on fastify, under /api: one fastify route per declaration,
 * its handler given the request, the path pattern's match and the URL as before. The path pattern
 * also decides what fastify's `:param` would take (`/api/people/abc` is no endpoint, not a bad id),
 * and the table answers what fastify does not find: 404, or 405 naming the allowed methods. Errors
 * are problem replies (problem.ts) with the messages the routes have always given.
 *
 * Bodies: the routes read them (api-body.ts: the upload limit and its 413 mid-stream, the 415 of
 * each route, the zod check of JSON with its 400), after their own checks of the query, so the
 * content-type parser here leaves every body unread.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { imageTypeRefusal, jsonTypeRefusal } from './api-body.js';
import {
  errorReply,
  matchRoute,
  type Reply,
  type Route,
  type RouteDecl,
  type RouterOptions,
} from './api-router.js';
import { requestUrl } from './auth.js';
import { problem } from './problem.js';

export const API_PREFIX = '/api';

/** Sends a Reply: JSON as is (text, so that its bytes are the ones HEAD counts), a binary body, or a bare status. */
export function sendReply(reply: FastifyReply, r: Reply): FastifyReply {
  reply.code(r.status);
  if (r.body)
    return reply
      .header('content-type', r.type ?? 'application/octet-stream')
      .header('cache-control', 'no-cache')
      .send(r.body);
  if (r.json === undefined) return reply.send();
  return reply.type(r.type ?? 'application/json; charset=utf-8').send(JSON.stringify(r.json));
}

/** What answers one route: its handler, the audit of the action, the error mapping. */
async function answer(
  routes: Route[],
  [, pattern, handler]: Route,
  request: FastifyRequest,
  reply: FastifyReply,
  o: RouterOptions,
): Promise<FastifyReply | undefined> {
  const raw = request.raw;
  const url = requestUrl(raw);
  const m = url ? pattern.exec(url.pathname) : null;
  if (!url || !m) return refuse(routes, request, reply, o);
  const what = `API ${request.method} ${url.pathname}`;
  const record = o.audit?.(raw, request.method, url.pathname);
  let r: Reply | undefined;
  try {
    r = await handler(raw, m, url);
    try {
      record?.(r);
    } catch (e) {
      o.log?.(`${what}: done, but its audit entry was not written`, e);
    }
  } catch (e) {
    r = errorReply(raw, e, what, o);
  }
  if (r) return sendReply(reply, r);
  // the client is gone: nobody to answer
  reply.hijack();
  reply.raw.destroy();
  return undefined;
}

/** A request no route took: the route the table finds after all, or its 404 / 405. */
function refuse(routes: Route[], request: FastifyRequest, reply: FastifyReply, o: RouterOptions) {
  const path = requestUrl(request.raw)?.pathname ?? request.url;
  const found = matchRoute(routes, request.method, path);
  if (Array.isArray(found)) return answer(routes, found, request, reply, o);
  request.raw.resume();
  return sendReply(reply, found);
}

/** The 415 of a Content-Type fastify cannot even parse: the one the route itself gives. */
function mediaTypeRefusal(decl: RouteDecl | undefined, request: FastifyRequest): Reply {
  const type = request.headers['content-type'];
  const image = decl?.body?.image && (!decl.body.json || requestUrl(request.raw)?.searchParams.has('person'));
  const e = image ? imageTypeRefusal(type) : decl?.body?.json ? jsonTypeRefusal() : undefined;
  return problem(415, e?.message ?? `malformed Content-Type "${type}"`);
}

/** The API as a fastify plugin (register it with `{ prefix: API_PREFIX }`). */
export function apiPlugin(routes: Route[], o: RouterOptions) {
  return (app: FastifyInstance, _opts: unknown, done: (err?: Error) => void): void => {
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', (_request, _payload, next) => next(null));
    for (const r of routes) {
      const [method, , , decl] = r;
      if (!decl.path.startsWith(`${API_PREFIX}/`)) throw new Error(`${decl.path}: not under ${API_PREFIX}/`);
      app.route({
        method,
        url: decl.path.slice(API_PREFIX.length),
        config: { decl },
        handler: (request, reply) => answer(routes, r, request, reply, o),
      });
    }
    app.setNotFoundHandler((request, reply) => refuse(routes, request, reply, o));
    app.setErrorHandler((e: FastifyError, request, reply) => {
      if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
        request.raw.resume();
        const decl = (request.routeOptions.config as { decl?: RouteDecl }).decl;
        return sendReply(reply, mediaTypeRefusal(decl, request));
      }
      const status = e.statusCode ?? 500;
      if (status >= 500) o.log?.(`API ${request.method} ${request.url} failed`, e);
      return sendReply(reply, problem(status, status >= 500 ? `internal error: ${e.message}` : e.message));
    });
    done();
  };
}
