/**
 * The people routes (the gallery of enrolled faces):
 *   GET    /api/people                           everyone, with a thumbnail URL each
 *   POST   /api/people?name=NAME                 enroll from the photo in the body
 *   POST   /api/people/from-alert/:alertId?name= enroll the face of an alert's snapshot
 *   POST   /api/people/from-stream/:stream?name=[&track=]   enroll a face on a live camera now
 *   GET    /api/people/:id                       one person
 *   PATCH  /api/people/:id                       rename ({"name": NAME})
 *   DELETE /api/people/:id                       delete with every photo
 *   POST   /api/people/:id/photos                add the photo in the body
 *   GET    /api/people/:id/thumbnail.jpg         the person's thumbnail
 */
import { z } from 'zod';
import { enrollFromAlert } from '../faces/alert-enroll.js';
import type { AlertStore } from '../faces/alerts.js';
import type { FaceService } from '../faces/service.js';
import { HttpError, imageBody, jsonBody, parseId } from './api-body.js';
import type { Route } from './api-router.js';
import { strictQueryParam } from './query.js';

export interface PeopleRouteDeps {
  /** The running face service; throws an HttpError (409) when face recognition is off. */
  service: () => FaceService;
  /** The alert history (for enrolling from an alert); throws like `service`. */
  alerts: () => AlertStore;
  /** A JPEG of a face on a live camera now (a track, or the largest face). */
  liveFace?: (stream: string, trackId?: number) => Promise<Buffer>;
  maxBodyBytes: number;
}

/** A rename is a small JSON object. */
const RENAME_LIMIT = 64 * 1024;
const Rename = z.object({ name: z.string() }).strict();

export function createPeopleRoutes(d: PeopleRouteDeps): Route[] {
  return [
    [
      'GET',
      /^\/api\/people$/,
      async () => ({
        status: 200,
        json: d
          .service()
          .gallery.list()
          .map((p) => ({ ...p, thumbnail_url: `/api/people/${p.id}/thumbnail.jpg` })),
      }),
    ],
    ...enrollRoutes(d),
    ...personRoutes(d),
  ];
}

/** Enrolling someone new: from an uploaded photo, an alert's snapshot or a live camera. */
function enrollRoutes(d: PeopleRouteDeps): Route[] {
  return [
    [
      'POST',
      /^\/api\/people$/,
      async (req) => {
        const name = strictQueryParam(req, 'name');
        if (name === null)
          throw new HttpError(400, 'name is required: POST /api/people?name=NAME with the photo as the body');
        const service = d.service();
        return { status: 201, json: await service.enroll(name, [await imageBody(req, d.maxBodyBytes)]) };
      },
    ],
    [
      'POST',
      /^\/api\/people\/from-alert\/(\d+)$/,
      async (req, m) => {
        const service = d.service();
        const alerts = d.alerts();
        const name = strictQueryParam(req, 'name');
        if (name === null) throw new HttpError(400, 'name is required');
        return { status: 201, json: await enrollFromAlert(service, alerts, parseId(m[1]), name) };
      },
    ],
    [
      'POST',
      /^\/api\/people\/from-stream\/([A-Za-z0-9_-]{1,64})$/,
      async (req, m, url) => {
        const service = d.service();
        if (!d.liveFace) throw new HttpError(409, 'live enrollment is not available');
        const name = strictQueryParam(req, 'name');
        if (name === null) throw new HttpError(400, 'name is required');
        const track = url.searchParams.get('track');
        const jpeg = await d.liveFace(m[1] as string, track === null ? undefined : parseId(track));
        return { status: 201, json: await service.enroll(name, [jpeg]) };
      },
    ],
  ];
}

/** One enrolled person: read, rename, delete, add a photo, the thumbnail. */
function personRoutes(d: PeopleRouteDeps): Route[] {
  return [
    [
      'GET',
      /^\/api\/people\/(\d+)$/,
      async (_r, m) => ({ status: 200, json: d.service().gallery.person(parseId(m[1])) }),
    ],
    [
      'PATCH',
      /^\/api\/people\/(\d+)$/,
      async (req, m) => {
        const body = await jsonBody(req, RENAME_LIMIT, Rename);
        return { status: 200, json: d.service().gallery.rename(parseId(m[1]), body.name) };
      },
    ],
    [
      'DELETE',
      /^\/api\/people\/(\d+)$/,
      async (_r, m) => {
        d.service().gallery.delete(parseId(m[1]));
        return { status: 204 };
      },
    ],
    [
      'POST',
      /^\/api\/people\/(\d+)\/photos$/,
      async (req, m) => ({
        status: 201,
        json: await d.service().addPhoto(parseId(m[1]), await imageBody(req, d.maxBodyBytes)),
      }),
    ],
    [
      'GET',
      /^\/api\/people\/(\d+)\/thumbnail\.jpg$/,
      async (_r, m) => ({
        status: 200,
        body: d.service().gallery.thumbnail(parseId(m[1])),
        type: 'image/jpeg',
      }),
    ],
  ];
}
