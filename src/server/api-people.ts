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
import { idParam, NEEDS_FACES, pathParam, type Route, route } from './api-router.js';
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
const Rename = z.object({ name: z.string().describe('the new name') }).strict();
const Name = z.string().describe('the name to enroll under (1..100 characters, no control characters)');
const PersonId = idParam('the person');
const PHOTO = { image: true } as const;
const ENROLLED = { description: 'the new person: id, name, photos, embedded' };

export function createPeopleRoutes(d: PeopleRouteDeps): Route[] {
  return [
    route(
      'GET',
      {
        path: '/api/people',
        summary: 'Everyone enrolled, with a thumbnail URL each',
        ok: [200, { description: 'the people: id, name, photos, thumbnail_url' }],
        errors: NEEDS_FACES,
      },
      async () => ({
        status: 200,
        json: d
          .service()
          .gallery.list()
          .map((p) => ({ ...p, thumbnail_url: `/api/people/${p.id}/thumbnail.jpg` })),
      }),
    ),
    ...enrollRoutes(d),
    ...personRoutes(d),
    ...photoRoutes(d),
  ];
}

/** Enrolling someone new: from an uploaded photo, an alert's snapshot or a live camera. */
function enrollRoutes(d: PeopleRouteDeps): Route[] {
  const refusals = { ...NEEDS_FACES, 400: 'no name, a bad name or no face in the photo' };
  return [
    route(
      'POST',
      {
        path: '/api/people',
        summary: 'Enroll someone from the photo in the body',
        query: { name: Name },
        body: PHOTO,
        ok: [201, ENROLLED],
        errors: {
          ...refusals,
          409: 'the name is taken, or face recognition is off',
          413: 'photo too large',
          415: 'not an image',
        },
      },
      async (req) => {
        const name = strictQueryParam(req, 'name');
        if (name === null)
          throw new HttpError(400, 'name is required: POST /api/people?name=NAME with the photo as the body');
        const service = d.service();
        return { status: 201, json: await service.enroll(name, [await imageBody(req, d.maxBodyBytes)]) };
      },
    ),
    route(
      'POST',
      {
        path: '/api/people/from-alert/:alertId',
        summary: "Enroll the face of an alert's snapshot",
        params: { alertId: idParam('the alert') },
        query: { name: Name },
        ok: [201, ENROLLED],
        errors: { ...refusals, 404: 'no such alert, or it has no snapshot' },
      },
      async (req, m) => {
        const service = d.service();
        const alerts = d.alerts();
        const name = strictQueryParam(req, 'name');
        if (name === null) throw new HttpError(400, 'name is required');
        return { status: 201, json: await enrollFromAlert(service, alerts, parseId(m[1]), name) };
      },
    ),
    route(
      'POST',
      {
        path: '/api/people/from-stream/:stream',
        summary: 'Enroll a face on a live camera now (a track, or the largest face)',
        params: { stream: pathParam('[A-Za-z0-9_-]{1,64}', 'the stream id') },
        query: {
          name: Name,
          track: z.string().optional().describe('the track id of the face (default: the largest)'),
        },
        ok: [201, ENROLLED],
        errors: { ...refusals, 404: 'no such stream or track, or no face on it now' },
      },
      async (req, m, url) => {
        const service = d.service();
        if (!d.liveFace) throw new HttpError(409, 'live enrollment is not available');
        const name = strictQueryParam(req, 'name');
        if (name === null) throw new HttpError(400, 'name is required');
        const track = url.searchParams.get('track');
        const jpeg = await d.liveFace(m[1] as string, track === null ? undefined : parseId(track));
        return { status: 201, json: await service.enroll(name, [jpeg]) };
      },
    ),
  ];
}

/** One enrolled person: read, rename, delete. */
function personRoutes(d: PeopleRouteDeps): Route[] {
  const params = { id: PersonId };
  const refusals = { ...NEEDS_FACES, 400: 'a bad id', 404: 'no such person' };
  return [
    route(
      'GET',
      {
        path: '/api/people/:id',
        summary: 'One person',
        params,
        ok: [200, { description: 'the person' }],
        errors: refusals,
      },
      async (_r, m) => ({ status: 200, json: d.service().gallery.person(parseId(m[1])) }),
    ),
    route(
      'PATCH',
      {
        path: '/api/people/:id',
        summary: 'Rename a person',
        params,
        body: { json: Rename },
        ok: [200, { description: 'the person with the new name' }],
        errors: { ...refusals, 400: 'a bad id, body or name', 409: 'the name is taken', 415: 'not JSON' },
      },
      async (req, m) => {
        const body = await jsonBody(req, RENAME_LIMIT, Rename);
        return { status: 200, json: d.service().gallery.rename(parseId(m[1]), body.name) };
      },
    ),
    route(
      'DELETE',
      {
        path: '/api/people/:id',
        summary: 'Delete a person with every photo',
        params,
        ok: [204, { description: 'deleted' }],
        errors: refusals,
      },
      async (_r, m) => {
        d.service().gallery.delete(parseId(m[1]));
        return { status: 204 };
      },
    ),
  ];
}

/** A person's photos: add one, the thumbnail. */
function photoRoutes(d: PeopleRouteDeps): Route[] {
  const params = { id: PersonId };
  const refusals = { ...NEEDS_FACES, 400: 'a bad id', 404: 'no such person' };
  return [
    route(
      'POST',
      {
        path: '/api/people/:id/photos',
        summary: 'Add the photo in the body to a person',
        params,
        body: PHOTO,
        ok: [201, { description: 'the person with the photo added' }],
        errors: {
          ...refusals,
          400: 'a bad id or no face in the photo',
          413: 'photo too large',
          415: 'not an image',
        },
      },
      async (req, m) => ({
        status: 201,
        json: await d.service().addPhoto(parseId(m[1]), await imageBody(req, d.maxBodyBytes)),
      }),
    ),
    route(
      'GET',
      {
        path: '/api/people/:id/thumbnail.jpg',
        summary: "A person's thumbnail",
        params,
        ok: [200, { description: 'the thumbnail', jpeg: true }],
        errors: refusals,
      },
      async (_r, m) => ({
        status: 200,
        body: d.service().gallery.thumbnail(parseId(m[1])),
        type: 'image/jpeg',
      }),
    ),
  ];
}
