import type { Gallery } from '../faces/gallery/gallery.js';
import type { UnknownStore } from '../faces/unknowns/store.js';
import { HttpError, parseId as id } from './api-body.js';
import type { Handler, Reply, Route } from './api-router.js';
import { strictQueryParam } from './query.js';

/** The route shapes of src/server/api-router.ts. */
export type UnknownReply = Reply;
export type UnknownHandler = Handler;
export type UnknownRoute = Route;

export interface UnknownRouteDeps {
  /**
   * The store and the gallery of the running service; throws an HttpError (409) when face
   * recognition or the unknown-face store is off.
   */
  faces: () => { unknowns: UnknownStore; gallery: Gallery };
}

const int = (v: string | null, what: string, min: number, max: number, dflt: number) => {
  if (v === null || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new HttpError(400, `${what} must be an integer in [${min}, ${max}]`);
  return n;
};

const flag = (v: string | null) => v !== null && v !== '0' && v !== 'false';

/**
 * Unknown-face routes, in the route-tuple shape of src/server/api-router.ts:
 *   GET    /api/unknowns?min=&camera=&limit=          clusters, most recently seen first
 *   GET    /api/unknowns/:clusterId                   one cluster with its sightings
 *   POST   /api/unknowns/:clusterId/name?name=NAME[&append=1][&maxPhotos=N]   enroll its faces
 *   DELETE /api/unknowns/:clusterId                   forget it
 *   GET    /api/unknowns/:clusterId/snapshot.jpg      its most typical face
 *   GET    /api/unknowns/sightings/:id/snapshot.jpg   one sighting's face
 *   GET    /api/people/:id/sightings?threshold=&limit=   past unknown sightings of an enrolled person
 * Errors: GalleryError / HttpError with their status (400 bad id or name, 404 unknown id, 409 name
 * taken or another embedding space), mapped by api-router.ts.
 */
export function createUnknownRoutes(d: UnknownRouteDeps): UnknownRoute[] {
  return [
    [
      'GET',
      /^\/api\/unknowns$/,
      async (_r, _m, url) => ({
        status: 200,
        json: d.faces().unknowns.list({
          minSightings: int(url.searchParams.get('min'), 'min', 1, 1e9, 1),
          limit: int(url.searchParams.get('limit'), 'limit', 1, 1000, 100),
          camera: url.searchParams.get('camera') ?? undefined,
        }),
      }),
    ],
    [
      'GET',
      /^\/api\/unknowns\/(\d+)$/,
      async (_r, m) => ({ status: 200, json: d.faces().unknowns.cluster(id(m[1])) }),
    ],
    [
      'POST',
      /^\/api\/unknowns\/(\d+)\/name$/,
      async (req, m, url) => {
        req.resume();
        const name = strictQueryParam(req, 'name');
        if (name === null)
          throw new HttpError(400, 'name is required: POST /api/unknowns/CLUSTER/name?name=NAME');
        const f = d.faces();
        const r = f.unknowns.name(id(m[1]), name, f.gallery, {
          maxPhotos: int(url.searchParams.get('maxPhotos'), 'maxPhotos', 1, 1000, 20),
          append: flag(url.searchParams.get('append')),
        });
        return { status: 201, json: { ...r.person, enrolledPhotos: r.photos, sightings: r.sightings } };
      },
    ],
    [
      'DELETE',
      /^\/api\/unknowns\/(\d+)$/,
      async (_r, m) => {
        d.faces().unknowns.deleteCluster(id(m[1]));
        return { status: 204 };
      },
    ],
    [
      'GET',
      /^\/api\/unknowns\/(\d+)\/snapshot\.jpg$/,
      async (_r, m) => ({ status: 200, body: d.faces().unknowns.snapshot(id(m[1])), type: 'image/jpeg' }),
    ],
    [
      'GET',
      /^\/api\/unknowns\/sightings\/(\d+)\/snapshot\.jpg$/,
      async (_r, m) => ({
        status: 200,
        body: d.faces().unknowns.sightingSnapshot(id(m[1])),
        type: 'image/jpeg',
      }),
    ],
    [
      'GET',
      /^\/api\/people\/(\d+)\/sightings$/,
      async (_r, m, url) => {
        const f = d.faces();
        const t = url.searchParams.get('threshold');
        const threshold = t === null || t === '' ? undefined : Number(t);
        if (threshold !== undefined && !(threshold >= -1 && threshold <= 1))
          throw new HttpError(400, 'threshold must be a cosine similarity in [-1, 1]');
        return {
          status: 200,
          json: f.unknowns.searchPerson(id(m[1]), f.gallery, {
            threshold,
            limit: int(url.searchParams.get('limit'), 'limit', 1, 10000, 200),
          }),
        };
      },
    ],
  ];
}
