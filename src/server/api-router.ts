/**
 * The API's routes as declarations: a route is [method, path pattern, handler, declaration]. The
 * declaration (the path template with its parameters as zod schemas, the query parameters, the
 * request body's zod schema, the responses) is the one source of the path pattern (built here), of
 * the fastify route (api-mount.ts) and of its entry in the OpenAPI document (openapi.ts). A handler
 * has nothing of the server's response in it: it returns a Reply. Here too: matching for the 404 and
 * 405 replies, and the mapping of errors to problem replies (RFC 9457, problem.ts).
 */
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import { GalleryError } from '../faces/gallery/gallery.js';
import { ImageError } from '../util/image.js';
import { HttpError } from './api-body.js';
import { problem } from './problem.js';

/** What a handler answers: JSON (`type` overrides its media type), a binary body with its type, or a bare status (204). */
export type Reply = { status: number; json?: unknown; body?: Buffer; type?: string };
/** `m` is the path pattern's match (its groups are the path parameters, in the template's order). */
export type Handler = (req: IncomingMessage, m: RegExpExecArray, url: URL) => Promise<Reply>;

/** A success response: JSON (described by `json` when given), a JPEG, or no content. */
export interface SuccessResponse {
  description: string;
  json?: z.ZodType;
  jpeg?: boolean;
}

/** A route's declaration. */
export interface RouteDecl {
  /** The path template, e.g. `/api/people/:id`; each `:name` is declared in `params`. */
  path: string;
  summary: string;
  /** Path parameters: strings held to a pattern (`^...$`), which becomes the route's path pattern. */
  params?: Record<string, z.ZodString>;
  /** Query parameters (optional ones are `.optional()`); checked by the handler with its messages. */
  query?: Record<string, z.ZodType>;
  /** The request body: a raw image, JSON held to a zod schema (read by api-body.ts), or either. */
  body?: { image?: boolean; json?: z.ZodType };
  /** The success status and what it answers. */
  ok: [status: number, response: SuccessResponse];
  /** The refusals of this route (status: when), answered as problem+json; api-mount adds the common ones. */
  errors?: Record<number, string>;
}

export type Route = [method: string, path: RegExp, handler: Handler, decl: RouteDecl];

export interface RouterOptions {
  /** Prepares the audit entry of a request; returns what records it once the reply is known. */
  audit?: (req: IncomingMessage, method: string, path: string) => ((r: Reply) => void) | undefined;
  log?: (msg: string, err?: unknown) => void;
  /** What is not Vigil's error (a client that went away mid-upload). */
  info?: (msg: string) => void;
}

/** A path parameter: a string matching `pattern` (anchored), described for the API's users. */
export const pathParam = (pattern: string, description: string): z.ZodString =>
  z
    .string()
    .regex(new RegExp(`^${pattern}$`))
    .describe(description);

/** A positive integer id in a path (`\d+`: another path than a bad id when not digits). */
export const idParam = (what: string): z.ZodString => pathParam('\\d+', what);

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The pattern source of a parameter schema, without its anchors. */
function patternOf(name: string, schema: z.ZodString): string {
  const p = (z.toJSONSchema(schema) as { pattern?: string }).pattern;
  if (!p?.startsWith('^') || !p.endsWith('$')) throw new Error(`path parameter ${name}: no ^...$ pattern`);
  return p.slice(1, -1);
}

/** The path pattern of a template: its literal parts escaped, each `:name` its parameter's pattern. */
export function pathPattern(decl: RouteDecl): RegExp {
  const parts = decl.path.split(/(:[A-Za-z]+)/).map((part) => {
    if (!part.startsWith(':')) return escapeRegExp(part);
    const schema = decl.params?.[part.slice(1)];
    if (!schema) throw new Error(`${decl.path}: parameter ${part} is not declared`);
    return `(${patternOf(part, schema)})`;
  });
  return new RegExp(`^${parts.join('')}$`);
}

/** A route from its declaration. */
export function route(method: string, decl: RouteDecl, handler: Handler): Route {
  return [method, pathPattern(decl), handler, decl];
}

/** The route serving `method` on `path`, or the 404 / 405 (naming the allowed methods) reply. */
export function matchRoute(routes: Route[], method: string, path: string): Route | Reply {
  const matching = routes.filter(([, re]) => re.test(path));
  const found = matching.find(([m]) => m === method || (m === 'GET' && method === 'HEAD'));
  if (found) return found;
  if (!matching.length) return problem(404, `no API endpoint ${path}`);
  const allowed = matching.map(([m]) => m).join(', ');
  return problem(405, `method ${method} not allowed on ${path} (allowed: ${allowed})`);
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
    return problem(e.status, e.message);
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
    o.log?.(`${what}: gallery database busy`, e);
    return problem(503, 'the gallery database is locked by another process; nothing was changed, try again');
  }
  if (code === 'SQLITE_FULL' || code === 'SQLITE_IOERR_WRITE' || code === 'SQLITE_IOERR') {
    o.log?.(`${what}: cannot write the gallery`, e);
    return problem(507, `cannot write the gallery database (${code}: disk full?); nothing was changed`);
  }
  o.log?.(`${what} failed`, e);
  return problem(500, `internal error: ${(e as Error).message}`);
}

/** The refusal of every route that needs face recognition (or a store of it) switched on. */
export const NEEDS_FACES: Record<number, string> = {
  409: 'face recognition (or the store it needs) is not enabled',
};
