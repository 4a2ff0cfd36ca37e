/**
 * Operator feedback on alerts (admin, audited; src/faces/gallery/feedback.ts for the rules):
 *   POST   /api/alerts/:id/feedback   {"verdict": "wrong" | "correct", "personId"?: N}
 *   POST   /api/alerts/:id/ignore     {"scope": "camera" | "everywhere"}
 *   GET    /api/feedback?alert=ID     the entries, newest first
 *   DELETE /api/feedback/:id          undo one entry (the gallery as it was before it)
 */
import { z } from 'zod';
import { alertVerdict, ignoreAlertFace } from '../faces/alert-feedback.js';
import type { AlertStore } from '../faces/alerts.js';
import { FeedbackStore } from '../faces/gallery/feedback.js';
import type { FaceService } from '../faces/service.js';
import { jsonBody, parseId } from './api-body.js';
import { idParam, NEEDS_FACES, type Route, route } from './api-router.js';

export interface FeedbackRouteDeps {
  service: () => FaceService;
  alerts: () => AlertStore;
}

const BODY_LIMIT = 64 * 1024;
const Verdict = z
  .object({
    verdict: z.enum(['wrong', 'correct']).describe('"wrong": not this person; "correct": this person'),
    personId: z
      .number()
      .int()
      .positive()
      .optional()
      .describe('the person the verdict is about (default: the one the alert named)'),
  })
  .strict();
const Ignore = z
  .object({
    scope: z
      .enum(['camera', 'everywhere'])
      .default('camera')
      .describe("the alert's camera only (default), or every camera"),
  })
  .strict();
const ENTRY = { description: 'the feedback entry: id, verdict, alertId, personId, camera, photoId, note' };
const alertParams = { id: idParam('the alert') };
const BAD = { 400: 'a bad id or body (the message names the field)', 415: 'not JSON' };

export function createFeedbackRoutes(d: FeedbackRouteDeps): Route[] {
  const store = () => new FeedbackStore(d.service().gallery);
  return [
    route(
      'POST',
      {
        path: '/api/alerts/:id/feedback',
        summary: 'Say whether a named alert was right: "wrong" makes its face a negative, "correct" a photo',
        params: alertParams,
        body: { json: Verdict },
        ok: [201, ENTRY],
        errors: {
          ...NEEDS_FACES,
          ...BAD,
          404: 'no such alert or person, or no snapshot',
          409: 'the same verdict already given, the alert named nobody, or recognition off',
          422: 'no face found in the snapshot',
        },
      },
      async (req, m) => {
        const id = parseId(m[1]);
        const body = await jsonBody(req, BODY_LIMIT, Verdict);
        return { status: 201, json: await alertVerdict(d.service(), d.alerts(), store(), id, body) };
      },
    ),
    route(
      'POST',
      {
        path: '/api/alerts/:id/ignore',
        summary: 'Never name or alert on the face of this alert again (a poster, a TV)',
        params: alertParams,
        body: { json: Ignore },
        ok: [201, ENTRY],
        errors: {
          ...NEEDS_FACES,
          ...BAD,
          404: 'no such alert, or no snapshot',
          409: 'already ignored, or recognition off',
          422: 'no face found in the snapshot',
        },
      },
      async (req, m) => {
        const id = parseId(m[1]);
        const { scope } = await jsonBody(req, BODY_LIMIT, Ignore);
        return { status: 201, json: await ignoreAlertFace(d.service(), d.alerts(), store(), id, scope) };
      },
    ),
    route(
      'GET',
      {
        path: '/api/feedback',
        summary: 'The feedback entries (wrong, correct, ignore), newest first',
        query: { alert: z.string().optional().describe('only the entries of this alert') },
        ok: [200, { description: 'the entries' }],
        errors: { ...NEEDS_FACES, 400: 'a bad alert id' },
      },
      async (_r, _m, url) => {
        const alert = url.searchParams.get('alert');
        return { status: 200, json: store().list({ alertId: alert ? parseId(alert) : undefined }) };
      },
    ),
    route(
      'DELETE',
      {
        path: '/api/feedback/:id',
        summary: 'Undo a feedback entry: the gallery and the decisions as they were before it',
        params: { id: idParam('the feedback entry') },
        ok: [200, { description: 'the entry undone' }],
        errors: { ...NEEDS_FACES, 400: 'a bad id', 404: 'no such entry' },
      },
      async (_r, m) => ({ status: 200, json: store().undo(parseId(m[1])) }),
    ),
  ];
}
