/**
 * Recognition's stores and service: the gallery of enrolled people (one SQLite file in dataDir),
 * the alerts raised, the unknown faces kept for naming, and the FaceService the API and the
 * recognize stage use. Present only when the pipeline has a recognize stage.
 */
import type { AlertStore } from '../../faces/alerts.js';
import type { AuditLog } from '../../faces/audit.js';
import type { Gallery } from '../../faces/gallery/gallery.js';
import { FeedbackStore } from '../../faces/gallery/feedback.js';
import { recognitionSpace } from '../../faces/learn/space.js';
import { FaceService } from '../../faces/service.js';
import { embedDim } from '../../faces/tasks/index.js';
import type { UnknownStore } from '../../faces/unknowns/store.js';
import { defineModule, type ModuleScope } from '../module.js';
import type { BaseContext, PipelineContext } from './base.js';
import type { ClusterLinkContext } from './cluster-link.js';
import { openFaceStores } from './face-stores.js';
import type { InferenceContext } from './inference.js';

export interface Faces {
  readonly gallery: Gallery;
  readonly alerts: AlertStore;
  readonly service: FaceService;
  /** The similarity a match needs, in the gallery's space. */
  readonly threshold: number;
  readonly unknowns: UnknownStore;
  readonly audit: AuditLog;
}

export interface FacesContext {
  readonly faces: Faces | undefined;
}

const UNKNOWNS_UPKEEP_MS = 60_000;
const RETENTION_PURGE_MS = 3_600_000;

function every(ms: number, run: () => void, scope: ModuleScope): void {
  const timer = setInterval(run, ms);
  timer.unref();
  scope.onStop(() => clearInterval(timer));
}

type Needs = BaseContext & PipelineContext & InferenceContext & ClusterLinkContext;

export const facesModule = defineModule<Needs, FacesContext>({
  name: 'faces',
  start: async ({ config, plan, host, log, clusterLink }, scope) => {
    const rec = plan.recognize;
    if (!rec || !host) return { faces: undefined };
    // The vectors' space: the model's (with its calibrated threshold), or a trained head's.
    const { version: space, threshold } = recognitionSpace(rec);
    const { gallery, alerts, unknowns, audit } = await openFaceStores(
      config,
      { model: rec.model, version: space, dim: embedDim(host) },
      threshold,
      log,
      scope,
      clusterLink,
    );
    every(UNKNOWNS_UPKEEP_MS, () => unknowns.maintain(), scope);
    const purge = () => {
      const r = alerts.purge(config.retention);
      if (r.snapshots || r.alerts)
        log.info({ ...r, retention: config.retention }, 'retention: expired face data removed');
    };
    purge();
    every(RETENTION_PURGE_MS, purge, scope);
    const service = new FaceService(host, gallery, threshold, rec);
    const missing = gallery.photosToEmbed().length;
    const feedbackFaces = new FeedbackStore(gallery).facesToEmbed().length;
    if (missing || feedbackFaces)
      log.warn(
        { photos: missing, feedbackFaces, model: rec.model, space },
        'enrolled photos or feedback faces lack embeddings for this model: run `vigil reembed`',
      );
    log.info({ people: gallery.list().length, model: rec.model, space, threshold }, 'gallery open');
    return { faces: { gallery, alerts, service, threshold, unknowns, audit } };
  },
});
