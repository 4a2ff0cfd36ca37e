/**
 * What the service is running:
 *   GET /api/streams                    every stream's status
 *   GET /api/health                     pipeline, backend, counts
 *   GET /api/styles                     the styles viewers may pick ([] without a style stage)
 *   GET /api/styles/:name/thumbnail.jpg a style's thumbnail
 */
import { HttpError } from './api-body.js';
import type { Route } from './api-router.js';

export interface SystemRouteDeps {
  streams: () => unknown;
  health: () => unknown;
  /** Present when the pipeline has a style stage. */
  styles?: { list: () => unknown[]; thumbnail: (name: string) => Buffer | null };
}

export function createSystemRoutes(d: SystemRouteDeps): Route[] {
  return [
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
  ];
}
