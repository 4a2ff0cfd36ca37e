/**
 * The cluster's cameras (cluster mode only; src/cluster/cameras-pg.ts), admin only. A camera URL's
 * user, password and secret query values are hidden in what is answered (`rtsp://***@cam/...`),
 * as everywhere else: a PUT gives the URL in full again. A change is stored in PostgreSQL; every node (this one too) applies
 * it on the NOTIFY that follows (src/cluster/cameras-follow.ts), within a heartbeat or two.
 *   GET    /api/cluster/cameras      every camera: id, config as given, updatedAt
 *   PUT    /api/cluster/cameras/:id  create or replace a camera (body: a stream config)
 *   DELETE /api/cluster/cameras/:id  remove a camera (its holder stops it)
 */
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import { StreamSchema } from '../config/schema.js';
import type { Requester } from './api-audit.js';
import { HttpError, jsonBody } from './api-body.js';
import { pathParam, type Route, route } from './api-router.js';
import { redactUrl } from '../util/redact-url.js';

/** What the routes need of the camera table (PgCameras). */
export interface ClusterCameraStore {
  rows(): Promise<Array<{ id: string; config: unknown; updatedAt: string }>>;
  put(id: string, given: Record<string, unknown>): Promise<boolean>;
  remove(id: string): Promise<boolean>;
}

export interface ClusterCameraRouteDeps {
  cameras: ClusterCameraStore;
  /** Checks a config for camera `id`: the problem, naming its key, when it is not valid. */
  check: (id: string, given: unknown) => string | undefined;
  requester: (req: IncomingMessage) => Requester;
  maxBodyBytes: number;
}

const CameraRow = z.object({
  id: z.string(),
  config: z.record(z.string(), z.unknown()),
  updatedAt: z.string(),
});
const cameraId = pathParam('[A-Za-z0-9_-]{1,64}', 'the camera (stream id)');
const ADMIN_ONLY = { 403: 'not the admin token' };

type Row = Awaited<ReturnType<ClusterCameraStore['rows']>>[number];

/** The row as answered: the URL's credentials hidden. */
function shown(r: Row): Row {
  const c = r.config as Record<string, unknown>;
  return typeof c.url === 'string' ? { ...r, config: { ...c, url: redactUrl(c.url) } } : r;
}

function adminOnly(d: ClusterCameraRouteDeps, req: IncomingMessage): void {
  if (!d.requester(req).admin)
    throw new HttpError(403, "the cluster's cameras need the admin token (server.auth.adminToken)");
}

export function createClusterCameraRoutes(d: ClusterCameraRouteDeps): Route[] {
  return [
    route(
      'GET',
      {
        path: '/api/cluster/cameras',
        summary: "The cluster's cameras as stored in PostgreSQL (admin)",
        ok: [200, { description: 'every camera, by id', json: z.array(CameraRow) }],
        errors: ADMIN_ONLY,
      },
      async (req) => {
        adminOnly(d, req);
        return { status: 200, json: (await d.cameras.rows()).map(shown) };
      },
    ),
    route(
      'PUT',
      {
        path: '/api/cluster/cameras/:id',
        summary: 'Create or replace a camera of the cluster (admin); the nodes follow within seconds',
        params: { id: cameraId },
        body: { json: StreamSchema },
        ok: [200, { description: 'replaced (201: created); the config as stored', json: CameraRow }],
        errors: { 400: 'not a valid stream config (the key is named)', ...ADMIN_ONLY },
      },
      async (req, m) => {
        adminOnly(d, req);
        const id = m[1] as string;
        const given = await jsonBody(req, d.maxBodyBytes, z.record(z.string(), z.unknown()));
        const problem = d.check(id, given);
        if (problem) throw new HttpError(400, `invalid body: ${problem}`);
        const created = await d.cameras.put(id, given);
        const row = (await d.cameras.rows()).find((r) => r.id === id);
        return { status: created ? 201 : 200, json: row && shown(row) };
      },
    ),
    route(
      'DELETE',
      {
        path: '/api/cluster/cameras/:id',
        summary: 'Remove a camera from the cluster (admin); the node running it stops it',
        params: { id: cameraId },
        ok: [204, { description: 'removed' }],
        errors: { 404: 'no such camera', ...ADMIN_ONLY },
      },
      async (req, m) => {
        adminOnly(d, req);
        if (!(await d.cameras.remove(m[1] as string))) throw new HttpError(404, `no camera "${m[1]}"`);
        return { status: 204 };
      },
    ),
  ];
}
