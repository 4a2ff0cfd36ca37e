/**
 * Audit of the API's admin actions, and GET /api/audit. Which request is which action is decided
 * here, from the method and path, so that the routes themselves stay as they are:
 *
 *   POST   /api/people                 enroll (source upload)
 *   POST   /api/people/from-alert/:id  enroll (source alert)
 *   POST   /api/people/from-stream/:s  enroll (source stream)
 *   POST   /api/people/:id/photos      add-photo
 *   PATCH  /api/people/:id             rename (detail.from: the name before)
 *   DELETE /api/people/:id             delete (name: the name it had)
 *   POST   /api/unknowns/:id/name      name-unknown
 *   DELETE /api/unknowns/:id           forget-unknown
 *   POST   /api/alerts/:id/feedback    feedback (detail.verdict: wrong / correct)
 *   POST   /api/alerts/:id/ignore      feedback (detail.verdict: ignore, detail.camera)
 *   DELETE /api/feedback/:id           undo-feedback (detail: the entry undone)
 *
 * Only successful (2xx) requests are recorded.
 */
import type { IncomingMessage } from 'node:http';
import type { AuditAction, AuditInput, AuditLog } from '../faces/audit.js';
import type { Gallery } from '../faces/gallery/gallery.js';
import type { Access } from './auth.js';
import { z } from 'zod';
import { HttpError } from './api-body.js';
import { NEEDS_FACES, type Route, route } from './api-router.js';

/** Who sent a request, as the audit log names them, and whether they may act as admin. */
export interface Requester {
  actor: string;
  admin: boolean;
}

/**
 * Names the token a request carried by its config key (tokens have no other name): "adminToken",
 * "token", or "local" when Vigil runs without tokens. Without an admin token configured, whoever
 * may call the API may do what admins do (the HTTP layer's rule for enrollment and deletion).
 */
export function requesterOf(access: Access | 'denied', adminTokenSet: boolean): Requester {
  const actor = access === 'admin' ? 'adminToken' : access === 'user' ? 'token' : 'local';
  return { actor, admin: access === 'admin' || (!adminTokenSet && access !== 'denied') };
}

type Reply = { status: number; json?: unknown };
type Plan = {
  action: AuditAction;
  before?: () => { name?: string };
  input: (r: Reply) => Partial<AuditInput>;
};

const num = (s: string | undefined) => Number(s);
/** A feedback entry (gallery/feedback.ts) as an audit entry: its person and what it was. */
const feedback = (r: Reply): Partial<AuditInput> => {
  const f = r.json as
    | { id: number; verdict: string; alertId: number | null; personId: number | null; camera: string | null }
    | undefined;
  return {
    personId: f?.personId ?? null,
    detail: { feedbackId: f?.id, verdict: f?.verdict, alertId: f?.alertId, camera: f?.camera },
  };
};
const personOf = (r: Reply) => r.json as { id?: number; name?: string; photos?: number } | undefined;

function plan(method: string, path: string, gallery: () => Gallery | undefined): Plan | undefined {
  const nameOf = (id: number) => () => {
    try {
      return { name: gallery()?.person(id).name };
    } catch {
      return {}; // the action itself will answer 400/404 and nothing is recorded
    }
  };
  const enrolled = (detail: Record<string, unknown>) => (r: Reply) => ({
    personId: personOf(r)?.id,
    name: personOf(r)?.name,
    detail: { ...detail, photos: personOf(r)?.photos },
  });
  const named = (clusterId: number) => (r: Reply) => {
    const j = r.json as
      | { id?: number; name?: string; enrolledPhotos?: number; sightings?: number }
      | undefined;
    return {
      clusterId,
      personId: j?.id,
      name: j?.name,
      detail: { photos: j?.enrolledPhotos, sightings: j?.sightings },
    };
  };
  const table: Array<[string, RegExp, (m: RegExpExecArray) => Plan]> = [
    ['POST', /^\/api\/people$/, () => ({ action: 'enroll', input: enrolled({ source: 'upload' }) })],
    [
      'POST',
      /^\/api\/people\/from-alert\/(\d+)$/,
      (m) => ({ action: 'enroll', input: enrolled({ source: 'alert', alertId: num(m[1]) }) }),
    ],
    [
      'POST',
      /^\/api\/people\/from-stream\/([^/]+)$/,
      (m) => ({ action: 'enroll', input: enrolled({ source: 'stream', stream: m[1] }) }),
    ],
    [
      'POST',
      /^\/api\/people\/(\d+)\/photos$/,
      () => ({ action: 'add-photo', input: enrolled({ source: 'upload' }) }),
    ],
    [
      'PATCH',
      /^\/api\/people\/(\d+)$/,
      (m) => ({
        action: 'rename',
        before: nameOf(num(m[1])),
        input: (r) => ({ personId: num(m[1]), name: personOf(r)?.name }),
      }),
    ],
    [
      'DELETE',
      /^\/api\/people\/(\d+)$/,
      (m) => ({ action: 'delete', before: nameOf(num(m[1])), input: () => ({ personId: num(m[1]) }) }),
    ],
    ['POST', /^\/api\/unknowns\/(\d+)\/name$/, (m) => ({ action: 'name-unknown', input: named(num(m[1])) })],
    [
      'DELETE',
      /^\/api\/unknowns\/(\d+)$/,
      (m) => ({ action: 'forget-unknown', input: () => ({ clusterId: num(m[1]) }) }),
    ],
    ['POST', /^\/api\/alerts\/(\d+)\/(feedback|ignore)$/, () => ({ action: 'feedback', input: feedback })],
    ['DELETE', /^\/api\/feedback\/(\d+)$/, () => ({ action: 'undo-feedback', input: feedback })],
  ];
  for (const [verb, re, make] of table) {
    const m = verb === method ? re.exec(path) : null;
    if (m) return make(m);
  }
  return undefined;
}

/**
 * Prepares the audit of one request: reads what the action is about to change (the name a rename
 * or delete replaces) and returns what records the entry once the reply is known; undefined when
 * the request is not an admin action.
 */
export function auditRequest(
  audit: AuditLog,
  requester: Requester,
  method: string,
  path: string,
  gallery: () => Gallery | undefined,
): ((reply: Reply) => void) | undefined {
  const p = plan(method, path, gallery);
  if (!p) return undefined;
  const before = p.before?.();
  return (reply) => {
    if (reply.status < 200 || reply.status >= 300) return;
    const input = p.input(reply);
    const detail = { ...input.detail };
    if (p.action === 'rename' && before?.name !== undefined) detail.from = before.name;
    audit.record({
      actor: requester.actor,
      action: p.action,
      personId: input.personId ?? null,
      clusterId: input.clusterId ?? null,
      name: input.name ?? before?.name ?? null,
      detail,
    });
  };
}

const int = (v: string | null, what: string, max: number) => {
  if (v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1 || n > max)
    throw new HttpError(400, `${what} must be an integer in [1, ${max}]`);
  return n;
};

/** GET /api/audit?before=ID&limit=N: newest first, admin only. */
export function createAuditRoutes(d: {
  audit: () => AuditLog;
  requester: (req: IncomingMessage) => Requester;
}): Route[] {
  const optional = (what: string) => z.string().optional().describe(what);
  return [
    route(
      'GET',
      {
        path: '/api/audit',
        summary:
          'The audit log of admin actions (enroll, rename, delete, name-unknown, ...), newest first; admin only',
        query: {
          before: optional('entries with a smaller id (the next page)'),
          limit: optional('at most this many, 1..1000'),
        },
        ok: [200, { description: 'the entries: time, actor, action, person, cluster, name, detail' }],
        errors: {
          ...NEEDS_FACES,
          400: 'a bad parameter',
          403: 'not the admin token',
          409: 'the audit log is not enabled',
        },
      },
      async (req, _m, url) => {
        if (!d.requester(req).admin)
          throw new HttpError(403, 'the audit log needs the admin token (server.auth.adminToken)');
        return {
          status: 200,
          json: d.audit().list({
            before: int(url.searchParams.get('before'), 'before', Number.MAX_SAFE_INTEGER),
            limit: int(url.searchParams.get('limit'), 'limit', 1000),
          }),
        };
      },
    ),
  ];
}
