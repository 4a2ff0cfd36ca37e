/**
 * The JSON/HTTP API under /api/: the route table of every resource (api-system, api-people,
 * api-recognition, api-alerts, api-unknowns, api-audit), served by api-router.ts. The order of the
 * table is the order a 405 lists the allowed methods in.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AlertStore } from '../faces/alerts.js';
import type { AuditLog } from '../faces/audit.js';
import type { FaceService } from '../faces/service.js';
import type { UnknownStore } from '../faces/unknowns/store.js';
import { createAlertRoutes } from './api-alerts.js';
import { auditRequest, createAuditRoutes, type Requester } from './api-audit.js';
import { HttpError } from './api-body.js';
import { createPeopleRoutes } from './api-people.js';
import { createRecognitionRoutes } from './api-recognition.js';
import { createRouter } from './api-router.js';
import { createSystemRoutes } from './api-system.js';
import { createUnknownRoutes } from './api-unknowns.js';

export { HttpError, readBody } from './api-body.js';

export interface ApiDeps {
  streams: () => unknown;
  health: () => unknown;
  /** Present when the pipeline recognises faces. */
  faces?: { service: FaceService; alerts: AlertStore; unknowns?: UnknownStore; audit?: AuditLog };
  /** A JPEG of a face on a live camera now (a track, or the largest face). */
  liveFace?: (stream: string, trackId?: number) => Promise<Buffer>;
  /** Present when the pipeline has a style stage: the styles viewers may pick, and their thumbnails. */
  styles?: { list: () => unknown[]; thumbnail: (name: string) => Buffer | null };
  maxBodyBytes: number;
  /** Who sent a request (the audit log's actor) and whether they may act as admin; default: local admin. */
  requester?: (req: IncomingMessage) => Requester;
  log?: (msg: string, err?: unknown) => void;
  /** What is not Vigil's error (a client that went away mid-upload). */
  info?: (msg: string) => void;
}

/** The API's handler. Returns false when the path is not an API path. */
export function createApi(d: ApiDeps): (req: IncomingMessage, res: ServerResponse) => boolean {
  const faces = () => {
    if (!d.faces)
      throw new HttpError(
        409,
        'face recognition is not enabled: run a pipeline with a recognize stage (pipeline: recognize)',
      );
    return d.faces;
  };
  const service = () => faces().service;
  const alerts = () => faces().alerts;
  const requester = (req: IncomingMessage): Requester =>
    d.requester?.(req) ?? { actor: 'local', admin: true };
  const routes = [
    ...createSystemRoutes(d),
    ...createPeopleRoutes({ service, alerts, liveFace: d.liveFace, maxBodyBytes: d.maxBodyBytes }),
    ...createRecognitionRoutes({ service, maxBodyBytes: d.maxBodyBytes }),
    ...createAlertRoutes({ alerts }),
    ...createUnknownRoutes({
      faces: () => {
        const f = faces();
        if (!f.unknowns) throw new HttpError(409, 'the unknown-face store is not enabled');
        return { unknowns: f.unknowns, gallery: f.service.gallery };
      },
    }),
    ...createAuditRoutes({
      audit: () => {
        const a = faces().audit;
        if (!a) throw new HttpError(409, 'the audit log is not enabled');
        return a;
      },
      requester,
    }),
  ];
  return createRouter(routes, {
    audit: (req, method, path) => {
      const audit = d.faces?.audit;
      return audit
        ? auditRequest(audit, requester(req), method, path, () => d.faces?.service.gallery)
        : undefined;
    },
    log: d.log,
    info: d.info,
  });
}
