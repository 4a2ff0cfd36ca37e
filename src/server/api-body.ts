/**
 * What the API's routes share to read a request: HttpError (an error with its status, mapped to the
 * reply by api-router.ts), the body readers (a size limit, the content type, an image, JSON checked
 * by a zod schema) and id parsing. Every refusal names what was wrong. The routes read their bodies
 * themselves (api-mount.ts leaves the stream unread), so each checks what it needs in its own order.
 */
import type { IncomingMessage } from 'node:http';
import type { z } from 'zod';
import { decodeUtf8 } from '../faces/person-name.js';

/** An API error with its HTTP status. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Reads a request body, refusing more than `limit` bytes (413) without buffering the excess. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  if (declared > limit) {
    req.resume();
    throw new HttpError(413, `body of ${declared} bytes exceeds the limit of ${limit}`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > limit) {
      req.resume();
      throw new HttpError(413, `body exceeds the limit of ${limit} bytes`);
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

/** The 415 of an image route, naming the Content-Type it got. */
export function imageTypeRefusal(contentType: string | undefined): HttpError {
  const type =
    String(contentType ?? '')
      .split(';')[0]
      ?.trim() ?? '';
  return new HttpError(
    415,
    `send the image as the request body with Content-Type image/jpeg, image/png or image/webp (got "${type || 'none'}")`,
  );
}

/** The 415 of a JSON route. */
export const jsonTypeRefusal = (): HttpError =>
  new HttpError(415, 'send JSON with Content-Type application/json');

/** An image sent as the raw body (415 for another content type, 400 when empty). */
export async function imageBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const type =
    String(req.headers['content-type'] ?? '')
      .split(';')[0]
      ?.trim() ?? '';
  if (!/^image\/|^application\/octet-stream$/.test(type)) throw imageTypeRefusal(type);
  const b = await readBody(req, limit);
  if (!b.length) throw new HttpError(400, 'the request body is empty: send an image');
  return b;
}

/** A JSON body checked by `schema` (415, or 400 naming the first invalid key). */
export async function jsonBody<T>(req: IncomingMessage, limit: number, schema: z.ZodType<T>): Promise<T> {
  const type = String(req.headers['content-type'] ?? '');
  if (!type.startsWith('application/json')) throw jsonTypeRefusal();
  const text = decodeUtf8(await readBody(req, limit), 'the body');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new HttpError(400, 'the body is not valid JSON');
  }
  const r = schema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new HttpError(400, `invalid body: ${i?.path.join('.') || '(root)'}: ${i?.message}`);
  }
  return r.data;
}

/** A positive integer id from a path or query parameter (400 otherwise). */
export function parseId(s: string | undefined): number {
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n <= 0) throw new HttpError(400, `invalid id "${s}"`);
  return n;
}
