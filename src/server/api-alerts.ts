/**
 * The alert history:
 *   GET /api/alerts?before=&after=&limit=&camera=&label=   newest first
 *   GET /api/alerts/:id/snapshot.jpg                       the face snapshot of one alert
 */
import { z } from 'zod';
import type { AlertStore } from '../faces/alerts.js';
import type { FeedbackStore } from '../faces/gallery/feedback.js';
import { HttpError, parseId } from './api-body.js';
import { idParam, NEEDS_FACES, type Route, route } from './api-router.js';

export interface AlertRouteDeps {
  /** The alert store; throws an HttpError (409) when face recognition is off. */
  alerts: () => AlertStore;
  /** The operator feedback on alerts (each listed alert carries its latest verdict). */
  feedback: () => FeedbackStore;
}

/** A page of alerts is 1..500 long (50 for a limit that is not a number). */
const pageSize = (s: string) => Math.max(1, Math.min(500, Number(s) || 50));

export function createAlertRoutes(d: AlertRouteDeps): Route[] {
  const optional = (what: string) => z.string().optional().describe(what);
  return [
    route(
      'GET',
      {
        path: '/api/alerts',
        summary: 'The alert history, newest first',
        query: {
          before: optional('alerts with a smaller id (the next page)'),
          after: optional('alerts with a larger id (the new ones)'),
          limit: optional('page size, 1..500 (default 50)'),
          camera: optional('only this camera'),
          label: optional('only this label (a name, or "unknown")'),
        },
        ok: [
          200,
          {
            description:
              'the alerts, each with has_snapshot, snapshot_url and feedback (the latest verdict or null)',
          },
        ],
        errors: { ...NEEDS_FACES, 400: 'a bad id' },
      },
      async (_r, _m, url) => {
        const q = (k: string) => url.searchParams.get(k) ?? undefined;
        const alerts = d.alerts();
        const before = q('before');
        const after = q('after');
        const limit = q('limit');
        const page = alerts.list({
          before: before ? parseId(before) : undefined,
          after: after ? parseId(after) : undefined,
          limit: limit ? pageSize(limit) : undefined,
          camera: q('camera'),
          label: q('label'),
        });
        const verdicts = d.feedback().latestByAlert(page.map((a) => a.id));
        const feedback = (id: number) => {
          const f = verdicts.get(id);
          return f ? { id: f.id, verdict: f.verdict, note: f.note } : null;
        };
        return { status: 200, json: page.map((a) => ({ ...a, feedback: feedback(a.id) })) };
      },
    ),
    route(
      'GET',
      {
        path: '/api/alerts/:id/snapshot.jpg',
        summary: 'The face snapshot of one alert',
        params: { id: idParam('the alert') },
        ok: [200, { description: 'the snapshot', jpeg: true }],
        errors: { ...NEEDS_FACES, 400: 'a bad id', 404: 'no snapshot' },
      },
      async (_r, m) => {
        const snap = d.alerts().snapshot(parseId(m[1]));
        if (!snap) throw new HttpError(404, `alert ${m[1]} has no snapshot`);
        return { status: 200, body: snap, type: 'image/jpeg' };
      },
    ),
  ];
}
