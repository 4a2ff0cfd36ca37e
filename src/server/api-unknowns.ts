import type { Gallery } from '../faces/gallery/gallery.js';
import type { UnknownStore } from '../faces/unknowns/store.js';
import { HttpError, parseId as id } from './api-body.js';
import { z } from 'zod';
import { type Handler, idParam, NEEDS_FACES, type Reply, type Route, route } from './api-router.js';
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
  return [...clusterRoutes(d), ...snapshotRoutes(d)];
}

const optional = (what: string) => z.string().optional().describe(what);
const ClusterId = { clusterId: idParam('the cluster of unknown faces') };
const refusals = { ...NEEDS_FACES, 400: 'a bad id or parameter', 404: 'no such cluster' };

/** The clusters: list, one, name (enroll its faces), forget. */
function clusterRoutes(d: UnknownRouteDeps): UnknownRoute[] {
  return [
    route(
      'GET',
      {
        path: '/api/unknowns',
        summary: 'Clusters of unknown faces, most recently seen first',
        query: {
          min: optional('at least this many sightings (default 1)'),
          camera: optional('seen on this camera'),
          limit: optional('at most this many, 1..1000 (default 100)'),
        },
        ok: [200, { description: 'the clusters, each with its sightings count and snapshotUrl' }],
        errors: { ...NEEDS_FACES, 400: 'a bad parameter' },
      },
      async (_r, _m, url) => ({
        status: 200,
        json: d.faces().unknowns.list({
          minSightings: int(url.searchParams.get('min'), 'min', 1, 1e9, 1),
          limit: int(url.searchParams.get('limit'), 'limit', 1, 1000, 100),
          camera: url.searchParams.get('camera') ?? undefined,
        }),
      }),
    ),
    route(
      'GET',
      {
        path: '/api/unknowns/:clusterId',
        summary: 'One cluster with its sightings',
        params: ClusterId,
        ok: [200, { description: 'the cluster' }],
        errors: refusals,
      },
      async (_r, m) => ({ status: 200, json: d.faces().unknowns.cluster(id(m[1])) }),
    ),
    route(
      'POST',
      {
        path: '/api/unknowns/:clusterId/name',
        summary: 'Name a cluster: enroll its faces as a new person (or append them to one with that name)',
        params: ClusterId,
        query: {
          name: z.string().describe('the name to enroll under'),
          append: optional('1: add the faces to the person of that name'),
          maxPhotos: optional('at most this many photos, 1..1000 (default 20)'),
        },
        ok: [201, { description: 'the person, with enrolledPhotos and sightings' }],
        errors: { ...refusals, 409: 'the name is taken, or another embedding space' },
      },
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
    ),
    route(
      'DELETE',
      {
        path: '/api/unknowns/:clusterId',
        summary: 'Forget a cluster',
        params: ClusterId,
        ok: [204, { description: 'forgotten' }],
        errors: refusals,
      },
      async (_r, m) => {
        d.faces().unknowns.deleteCluster(id(m[1]));
        return { status: 204 };
      },
    ),
  ];
}

/** Snapshots of unknown faces, and the past sightings of an enrolled person. */
function snapshotRoutes(d: UnknownRouteDeps): UnknownRoute[] {
  const jpeg = { description: 'the snapshot', jpeg: true };
  return [
    route(
      'GET',
      {
        path: '/api/unknowns/:clusterId/snapshot.jpg',
        summary: "A cluster's most typical face",
        params: ClusterId,
        ok: [200, jpeg],
        errors: refusals,
      },
      async (_r, m) => ({ status: 200, body: d.faces().unknowns.snapshot(id(m[1])), type: 'image/jpeg' }),
    ),
    route(
      'GET',
      {
        path: '/api/unknowns/sightings/:id/snapshot.jpg',
        summary: "One sighting's face",
        params: { id: idParam('the sighting') },
        ok: [200, jpeg],
        errors: { ...refusals, 404: 'no such sighting' },
      },
      async (_r, m) => ({
        status: 200,
        body: d.faces().unknowns.sightingSnapshot(id(m[1])),
        type: 'image/jpeg',
      }),
    ),
    route(
      'GET',
      {
        path: '/api/people/:id/sightings',
        summary: 'Past unknown sightings that look like an enrolled person',
        params: { id: idParam('the person') },
        query: {
          threshold: optional('cosine similarity in [-1, 1] (default: the recognition threshold)'),
          limit: optional('at most this many, 1..10000 (default 200)'),
        },
        ok: [200, { description: 'the sightings, most similar first' }],
        errors: { ...refusals, 404: 'no such person' },
      },
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
    ),
  ];
}
