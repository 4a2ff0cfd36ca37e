/**
 * Recognition without enrolling:
 *   POST /api/identify                 every face in the photo of the body, with its best match
 *   POST /api/verify?person=ID         is the face in the body this enrolled person?
 *   POST /api/verify                   are two photos ({"a": base64, "b": base64}) the same person?
 */
import { z } from 'zod';
import type { FaceService } from '../faces/service.js';
import { imageBody, jsonBody, parseId } from './api-body.js';
import { NEEDS_FACES, type Route, route } from './api-router.js';

export interface RecognitionRouteDeps {
  /** The running face service; throws an HttpError (409) when face recognition is off. */
  service: () => FaceService;
  maxBodyBytes: number;
}

const Base64Image = z
  .string()
  .min(1)
  .max(30_000_000)
  .regex(/^[A-Za-z0-9+/=\s]+$/, 'must be base64');
const ImagePair = z
  .object({
    a: Base64Image.describe('the first photo, base64'),
    b: Base64Image.describe('the second photo, base64'),
  })
  .strict();

export function createRecognitionRoutes(d: RecognitionRouteDeps): Route[] {
  const limit = d.maxBodyBytes;
  const refusals = {
    ...NEEDS_FACES,
    400: 'not an image, or no face in it',
    413: 'body too large',
    415: 'not an image (or JSON)',
  };
  return [
    route(
      'POST',
      {
        path: '/api/identify',
        summary: 'Every face in the photo of the body, with its best match',
        body: { image: true },
        ok: [200, { description: '{faces: [...]}: each face with its box and identity' }],
        errors: refusals,
      },
      async (req) => ({
        status: 200,
        json: { faces: await d.service().identify(await imageBody(req, limit)) },
      }),
    ),
    route(
      'POST',
      {
        path: '/api/verify',
        summary:
          'With ?person=ID: is the face in the photo of the body this enrolled person? Without: are the two photos of the JSON body the same person?',
        query: { person: z.string().optional().describe('the enrolled person to compare the photo with') },
        body: { image: true, json: ImagePair },
        ok: [200, { description: 'the similarity and whether it is a match' }],
        errors: { ...refusals, 404: 'no such person' },
      },
      async (req, _m, url) => {
        const service = d.service();
        const person = url.searchParams.get('person');
        if (person !== null)
          return {
            status: 200,
            json: await service.verifyPerson(await imageBody(req, limit), parseId(person)),
          };
        const body = await jsonBody(req, limit, ImagePair);
        return {
          status: 200,
          json: await service.verify(Buffer.from(body.a, 'base64'), Buffer.from(body.b, 'base64')),
        };
      },
    ),
  ];
}
