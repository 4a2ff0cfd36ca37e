/**
 * The OpenAPI 3.1 document of the API, built from the route declarations (api-router.ts): each
 * route's path and query parameters, request body and responses, with the JSON Schemas zod makes
 * of the same schemas the routes check their input with. OpenAPI 3.1 uses JSON Schema 2020-12,
 * zod's default target.
 */
import { z } from 'zod';
import type { Route, RouteDecl } from './api-router.js';
import { Problem } from './problem.js';

/** Refusals any route may answer before its handler runs (api-mount.ts, http.ts). */
const COMMON_ERRORS: Record<number, string> = {
  401: 'a token is configured and the request has none, or the wrong one',
  421: 'the Host is not served here (DNS rebinding guard; server.allowedHosts)',
  500: 'an internal error',
};
const BODY_ERRORS: Record<number, string> = {
  503: 'the gallery database is locked by another process; nothing was changed',
  507: 'the gallery database cannot be written (disk full?); nothing was changed',
};

type Json = Record<string, unknown>;

const schemaOf = (s: z.ZodType): Json => {
  const { $schema: _, ...rest } = z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' }) as Json;
  return rest;
};

/** `/api/people/:id` as OpenAPI writes it: `/api/people/{id}`. */
export const openApiPath = (path: string): string => path.replace(/:([A-Za-z]+)/g, '{$1}');

/** A unique operation id: the method and the path's words, e.g. getApiPeopleById. */
function operationId(method: string, path: string): string {
  const words = path
    .split('/')
    .filter(Boolean)
    .map((seg) => (seg.startsWith(':') ? `by-${seg.slice(1)}` : seg))
    .flatMap((seg) => seg.split(/[^A-Za-z0-9]+/))
    .filter(Boolean);
  return method.toLowerCase() + words.map((w) => w[0]?.toUpperCase() + w.slice(1)).join('');
}

function parameters(decl: RouteDecl): Json[] {
  const path = Object.entries(decl.params ?? {}).map(([name, s]) => ({
    name,
    in: 'path',
    required: true,
    description: s.description,
    schema: schemaOf(s),
  }));
  const query = Object.entries(decl.query ?? {}).map(([name, s]) => ({
    name,
    in: 'query',
    required: !s.safeParse(undefined).success,
    description: s.description,
    schema: schemaOf(s),
  }));
  return [...path, ...query];
}

function requestBody(decl: RouteDecl): Json | undefined {
  if (!decl.body) return undefined;
  const content: Json = {};
  if (decl.body.image) {
    const image = { schema: { type: 'string', contentMediaType: 'image/*' } };
    for (const t of ['image/jpeg', 'image/png', 'image/webp', 'application/octet-stream']) content[t] = image;
  }
  if (decl.body.json) content['application/json'] = { schema: schemaOf(decl.body.json) };
  return { required: !decl.body.image || !decl.body.json, content };
}

function responses(decl: RouteDecl): Json {
  const [status, ok] = decl.ok;
  const success: Json = { description: ok.description };
  if (ok.jpeg)
    success.content = { 'image/jpeg': { schema: { type: 'string', contentMediaType: 'image/jpeg' } } };
  else if (status !== 204)
    success.content = { 'application/json': { schema: ok.json ? schemaOf(ok.json) : {} } };
  const problem = {
    content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
  };
  const errors = { ...COMMON_ERRORS, ...(decl.body ? BODY_ERRORS : {}), ...decl.errors };
  const out: Json = { [status]: success };
  for (const [code, when] of Object.entries(errors)) out[code] = { description: when, ...problem };
  return out;
}

/** The document: every route of `routes` under `paths`, HEAD implied by GET. */
export function openApiDocument(routes: Route[], version: string): Json {
  const paths: Record<string, Json> = {};
  for (const [method, , , decl] of routes) {
    const operation: Json = {
      operationId: operationId(method, decl.path),
      summary: decl.summary,
      tags: [decl.path.split('/')[2] ?? 'api'],
      parameters: parameters(decl),
      requestBody: requestBody(decl),
      responses: responses(decl),
    };
    if (!operation.requestBody) delete operation.requestBody;
    const at = openApiPath(decl.path);
    paths[at] = { ...paths[at], [method.toLowerCase()]: operation };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Vigil API',
      version,
      description:
        'Errors are application/problem+json (RFC 9457): detail says what was wrong, error repeats it. With server.auth tokens set, send "Authorization: Bearer <token>" (or ?token=); changes to people and unknown faces need the admin token.',
    },
    paths,
    components: {
      schemas: { Problem: schemaOf(Problem) },
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer' },
        tokenQuery: { type: 'apiKey', in: 'query', name: 'token' },
      },
    },
    // {}: without tokens configured (loopback only) no credentials are needed
    security: [{ bearer: [] }, { tokenQuery: [] }, {}],
  };
}
