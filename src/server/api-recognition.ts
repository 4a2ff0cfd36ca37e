/**
 * Recognition without enrolling:
 *   POST /api/identify                 every face in the photo of the body, with its best match
 *   POST /api/verify?person=ID         is the face in the body this enrolled person?
 *   POST /api/verify                   are two photos ({"a": base64, "b": base64}) the same person?
 */
import { z } from 'zod';
import type { FaceService } from '../faces/service.js';
import { imageBody, jsonBody, parseId } from './api-body.js';
import type { Route } from './api-router.js';

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
const ImagePair = z.object({ a: Base64Image, b: Base64Image }).strict();

export function createRecognitionRoutes(d: RecognitionRouteDeps): Route[] {
  const limit = d.maxBodyBytes;
  return [
    [
      'POST',
      /^\/api\/identify$/,
      async (req) => ({
        status: 200,
        json: { faces: await d.service().identify(await imageBody(req, limit)) },
      }),
    ],
    [
      'POST',
      /^\/api\/verify$/,
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
    ],
  ];
}
