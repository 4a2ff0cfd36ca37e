/**
 * The JSON/HTTP API under /api/: the route table of every resource (api-system, api-cluster, api-people,
 * api-recognition, api-alerts, api-feedback, api-unknowns, api-audit, api-docs), declared in api-router.ts'
 * shape and mounted on fastify by api-mount.ts. The order of the table is the order a 405 lists the
 * allowed methods in. In cluster mode also api-cluster-cameras.
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { AlertStore } from '../faces/alerts.js';
import type { AuditLog } from '../faces/audit.js';
import type { FaceService } from '../faces/service.js';
import type { UnknownStore } from '../faces/unknowns/store.js';
import { FeedbackStore } from '../faces/gallery/feedback.js';
import { createAlertRoutes } from './api-alerts.js';
import { auditRequest, createAuditRoutes, type Requester } from './api-audit.js';
import { type ClusterApi, createClusterRoutes } from './api-cluster.js';
import { type ClusterCameraStore, createClusterCameraRoutes } from './api-cluster-cameras.js';
import { HttpError } from './api-body.js';
import { createPeopleRoutes } from './api-people.js';
import { createRecognitionRoutes } from './api-recognition.js';
import { createDocsRoutes } from './api-docs.js';
import { createFeedbackRoutes } from './api-feedback.js';
import { API_PREFIX, apiPlugin } from './api-mount.js';
import type { Route } from './api-router.js';
import { createStyleTrainingRoutes } from './api-style-training.js';
import { createSystemRoutes } from './api-system.js';
import type { StyleTrainingJobs } from '../style/training-jobs.js';
import { createUnknownRoutes } from './api-unknowns.js';

export { HttpError, readBody } from './api-body.js';

export interface ApiDeps {
  streams: () => unknown;
  /** Cluster mode, once its view is up (GET /api/cluster). */
  cluster?: () => ClusterApi | undefined;
  health: () => unknown;
  /** Present when the pipeline recognises faces. */
  faces?: { service: FaceService; alerts: AlertStore; unknowns?: UnknownStore; audit?: AuditLog };
  /** A JPEG of a face on a live camera now (a track, or the largest face). */
  liveFace?: (stream: string, trackId?: number) => Promise<Buffer>;
  /** Present when the pipeline has a style stage: the styles viewers may pick, and their thumbnails. */
  styles?: {
    list: () => unknown[];
    thumbnail: (name: string) => Buffer | null;
    /** Trainings from the page. */
    training?: StyleTrainingJobs;
  };
  /** Cluster mode only: the cluster's cameras in PostgreSQL, and the check of a camera's config. */
  clusterCameras?: { cameras: ClusterCameraStore; check: (id: string, given: unknown) => string | undefined };
  maxBodyBytes: number;
  /** Who sent a request (the audit log's actor) and whether they may act as admin; default: local admin. */
  requester?: (req: IncomingMessage) => Requester;
  log?: (msg: string, err?: unknown) => void;
  /** What is not Vigil's error (a client that went away mid-upload). */
  info?: (msg: string) => void;
  /** The API page (/api/docs), or null when it is not built. */
  docsPage?: () => Buffer | null;
}

/** The API: its route table, and what mounts it on a fastify server. */
export interface Api {
  readonly routes: Route[];
  /** Registers the routes under /api (with the 404 / 405 and error replies of the table). */
  register(app: FastifyInstance): void;
}

export function createApi(d: ApiDeps): Api {
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
  const routes: Route[] = [
    ...createSystemRoutes(d),
    ...createClusterRoutes({ cluster: () => d.cluster?.() }),
    ...createStyleTrainingRoutes({
      training: () => {
        const t = d.styles?.training;
        if (!t)
          throw new HttpError(
            409,
            'styles are not enabled: run a pipeline with a style stage (pipeline: stylize)',
          );
        return t;
      },
      maxBodyBytes: d.maxBodyBytes,
    }),
    ...createPeopleRoutes({ service, alerts, liveFace: d.liveFace, maxBodyBytes: d.maxBodyBytes }),
    ...createRecognitionRoutes({ service, maxBodyBytes: d.maxBodyBytes }),
    ...createAlertRoutes({ alerts, feedback: () => new FeedbackStore(service().gallery) }),
    ...createFeedbackRoutes({ service, alerts }),
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
  if (d.clusterCameras)
    routes.push(
      ...createClusterCameraRoutes({ ...d.clusterCameras, requester, maxBodyBytes: d.maxBodyBytes }),
    );
  routes.push(...createDocsRoutes({ routes: () => routes, page: d.docsPage }));
  const plugin = apiPlugin(routes, {
    audit: (req, method, path) => {
      const audit = d.faces?.audit;
      return audit
        ? auditRequest(audit, requester(req), method, path, () => d.faces?.service.gallery)
        : undefined;
    },
    log: d.log,
    info: d.info,
  });
  return { routes, register: (app) => app.register(plugin, { prefix: API_PREFIX }) };
}
