/**
 * The SQLite stores of recognition, all in `<dataDir>/vigil.db` (the demo gallery's own file on the
 * embedded demo, src/faces/demo-gallery.ts): the gallery, alerts, unknown
 * faces and the audit log. Failing to open or migrate them (a read-only or corrupt file, a full
 * disk) stops start-up with one message naming dataDir and the file.
 */
import type { VigilConfig } from '../../config/schema.js';
import { AlertStore } from '../../faces/alerts.js';
import { AuditLog } from '../../faces/audit.js';
import { faceDatabase } from '../../faces/demo-gallery.js';
import { type EmbeddingSpace, Gallery } from '../../faces/gallery/gallery.js';
import { UnknownStore } from '../../faces/unknowns/store.js';
import type { Logger } from '../../log.js';
import { openInDataDir } from '../../util/startup-errors.js';
import type { ModuleScope } from '../module.js';

export function openFaceStores(
  config: VigilConfig,
  space: EmbeddingSpace,
  threshold: number,
  log: Logger,
  scope: ModuleScope,
): { gallery: Gallery; alerts: AlertStore; unknowns: UnknownStore; audit: AuditLog } {
  // <dataDir>/vigil.db, or the demo gallery's own database on the embedded demo (demo-gallery.ts)
  const { file } = faceDatabase(config);
  return openInDataDir(config.dataDir, file, () => {
    const gallery = new Gallery(file, space);
    scope.onStop(() => gallery.close());
    const alerts = new AlertStore(gallery.db);
    // Unknown faces seen on the cameras: kept (bounded, expiring) and clustered for naming.
    const unknowns = new UnknownStore(gallery.db, gallery.space, { threshold, log: (m) => log.warn(m) });
    // Admin actions: who and when, in the database and as one log line each.
    const audit = new AuditLog(gallery.db, (e) =>
      log.info({ audit: e }, `audit: ${e.action} by ${e.actor}${e.name === null ? '' : ` (${e.name})`}`),
    );
    return { gallery, alerts, unknowns, audit };
  });
}
