/**
 * Operator feedback on an alert (what the API and the CLI call): its face is embedded from the
 * alert's snapshot where the alert stored it (as enrolling from an alert does, alert-enroll.ts),
 * then kept as a negative, a photo of the person, or an ignored face (gallery/feedback.ts).
 */
import { snapshotPhoto } from './alert-enroll.js';
import type { AlertStore, FaceAlert } from './alerts.js';
import { GalleryError, type PhotoInput } from './gallery/gallery.js';
import type { FeedbackEntry, FeedbackStore } from './gallery/feedback.js';
import type { FaceService } from './service.js';

export interface VerdictRequest {
  verdict: 'wrong' | 'correct';
  /** The person the verdict is about; default: the person the alert named. */
  personId?: number;
}

export type IgnoreScope = 'camera' | 'everywhere';

/** The alert and its face as a gallery photo; 404 naming what is missing. */
async function alertFace(
  service: FaceService,
  alerts: AlertStore,
  alertId: number,
): Promise<{ alert: FaceAlert; photo: PhotoInput }> {
  const alert = alerts.get(alertId);
  if (!alert) throw new GalleryError(`no alert with id ${alertId}`, 404);
  const snap = alerts.snapshotWithFace(alertId);
  if (!snap)
    throw new GalleryError(
      `alert ${alertId} has no snapshot (snapshots are deleted after retention.snapshotDays days), so its face cannot be used`,
      404,
    );
  return { alert, photo: await snapshotPhoto(service.engine, snap.jpeg, snap.face, `alert ${alertId}`) };
}

/** The person a verdict is about: the one given, else the one the alert named; 404 if not enrolled. */
function verdictPerson(service: FaceService, alert: FaceAlert, personId: number | undefined): number {
  const id = personId ?? alert.person_id;
  if (id === null)
    throw new GalleryError(
      `alert ${alert.id} named nobody ("unknown"): say who it is with personId, or enroll its face`,
      409,
    );
  try {
    service.gallery.person(id);
  } catch (e) {
    if (e instanceof GalleryError && e.status === 404)
      throw new GalleryError(
        personId === undefined
          ? `alert ${alert.id} named person ${id} (${alert.sub_label}), who is no longer enrolled`
          : `no person with id ${id}`,
        404,
      );
    throw e;
  }
  return id;
}

/** "wrong" (not this person: a negative) or "correct" (this person: one more photo) on an alert. */
export async function alertVerdict(
  service: FaceService,
  alerts: AlertStore,
  store: FeedbackStore,
  alertId: number,
  req: VerdictRequest,
): Promise<FeedbackEntry> {
  const alert = alerts.get(alertId);
  if (!alert) throw new GalleryError(`no alert with id ${alertId}`, 404);
  const personId = verdictPerson(service, alert, req.personId); // before the (slow) embedding
  const { photo } = await alertFace(service, alerts, alertId);
  return req.verdict === 'wrong'
    ? store.wrong(alertId, personId, photo)
    : store.correct(alertId, personId, photo);
}

/** Never name or alert on the face of this alert again: on its camera, or everywhere. */
export async function ignoreAlertFace(
  service: FaceService,
  alerts: AlertStore,
  store: FeedbackStore,
  alertId: number,
  scope: IgnoreScope,
): Promise<FeedbackEntry> {
  const { alert, photo } = await alertFace(service, alerts, alertId);
  return store.ignore(alertId, scope === 'camera' ? alert.camera : null, photo);
}
