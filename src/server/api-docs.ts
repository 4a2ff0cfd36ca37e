/**
 * The API describing itself:
 *   GET /api/openapi.json   the OpenAPI 3.1 document of every route (openapi.ts)
 *   GET /api/docs           a page listing the routes from that document (no CDN: built into one
 *                           HTML file by scripts/build-viewer.mjs)
 * Both are under /api/, so they need the token like the rest of the API when one is set.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../util/paths.js';
import { HttpError } from './api-body.js';
import { type Route, route } from './api-router.js';
import { openApiDocument } from './openapi.js';

function version(): string {
  try {
    return (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string })
      .version;
  } catch {
    return '0.0.0';
  }
}

export interface DocsRouteDeps {
  /** Every route of the API, these two included. */
  routes: () => Route[];
  /** The API page (HTML), or null when the viewer is not built. */
  page?: () => Buffer | null;
}

export function createDocsRoutes(d: DocsRouteDeps): Route[] {
  let document: unknown;
  return [
    route(
      'GET',
      {
        path: '/api/openapi.json',
        summary: 'This document: the OpenAPI 3.1 description of every route',
        ok: [200, { description: 'the OpenAPI document' }],
      },
      async () => {
        document ??= openApiDocument(d.routes(), version());
        return { status: 200, json: document };
      },
    ),
    route(
      'GET',
      {
        path: '/api/docs',
        summary: 'A page listing the routes of this document',
        ok: [200, { description: 'the HTML page' }],
        errors: { 404: 'the page is not built (npm run build)' },
      },
      async () => {
        const html = d.page?.() ?? null;
        if (!html) throw new HttpError(404, 'the API page is not built: run npm run build');
        return { status: 200, body: html, type: 'text/html; charset=utf-8' };
      },
    ),
  ];
}
