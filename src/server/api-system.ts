/**
 * What the service is running:
 *   GET /api/streams                    every stream's status (cluster mode: every camera of the
 *                                       cluster, with its node)
 *   GET /api/health                     pipeline, backend, counts
 *   GET /api/styles                     the styles viewers may pick ([] without a style stage)
 *   GET /api/styles/:name/thumbnail.jpg a style's thumbnail
 */
import { HttpError } from './api-body.js';
import { pathParam, type Route, route } from './api-router.js';

export interface SystemRouteDeps {
  /** A promise in cluster mode (the holders are read from NATS). */
  streams: () => unknown;
  health: () => unknown;
  /** Present when the pipeline has a style stage. */
  styles?: { list: () => unknown[]; thumbnail: (name: string) => Buffer | null };
}

export function createSystemRoutes(d: SystemRouteDeps): Route[] {
  return [
    route(
      'GET',
      {
        path: '/api/streams',
        summary: "Every stream's status (state, rates, last error)",
        ok: [
          200,
          {
            description:
              'one status per configured stream; in cluster mode one per camera of the cluster with its `node` (state "remote" when another node runs it)',
          },
        ],
      },
      async () => ({ status: 200, json: await d.streams() }),
    ),
    route(
      'GET',
      {
        path: '/api/health',
        summary: 'Pipeline, backend and counts; open without a token, where it says only {"status":"ok"}',
        ok: [200, { description: 'status "ok", the pipeline, the inference backend, streams and people' }],
      },
      async () => ({ status: 200, json: d.health() }),
    ),
    route(
      'GET',
      {
        path: '/api/styles',
        summary: 'The styles viewers may pick ([] without a style stage)',
        ok: [200, { description: 'the styles, each with its name and thumbnail' }],
      },
      async () => ({ status: 200, json: d.styles?.list() ?? [] }),
    ),
    route(
      'GET',
      {
        path: '/api/styles/:name/thumbnail.jpg',
        summary: "A style's thumbnail",
        params: { name: pathParam('[a-z0-9_-]{1,48}', 'the style') },
        ok: [200, { description: 'the thumbnail', jpeg: true }],
        errors: { 404: 'no such style' },
      },
      async (_req, m) => {
        const jpeg = d.styles?.thumbnail(m[1] as string);
        if (!jpeg) throw new HttpError(404, `no style "${m[1]}"`);
        return { status: 200, body: jpeg, type: 'image/jpeg' };
      },
    ),
  ];
}
