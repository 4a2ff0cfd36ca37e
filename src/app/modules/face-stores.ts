/**
 * The SQLite stores of recognition, all in `<dataDir>/vigil.db` (the demo gallery's own file on the
 * embedded demo, src/faces/demo-gallery.ts): the gallery, alerts, unknown
 * faces and the audit log. Failing to open or migrate them (a read-only or corrupt file, a full
 * disk) stops start-up with one message naming dataDir and the file.
 * On a cluster node the gallery is a replica of PostgreSQL's (src/cluster/cluster-gallery.ts, file
 * `<dataDir>/cluster-<node>.db`), loaded before recognition starts and followed from then on.
 */
import { join } from 'node:path';
import { ClusterGallery } from '../../cluster/cluster-gallery.js';
import { startFeedbackSync } from '../../cluster/feedback-follow.js';
import { GallerySync } from '../../cluster/gallery-follow.js';
import { migrateGallery, PgGallery } from '../../cluster/gallery-pg.js';
import type { VigilConfig } from '../../config/schema.js';
import { AlertStore } from '../../faces/alerts.js';
import { AuditLog } from '../../faces/audit.js';
import { faceDatabase } from '../../faces/demo-gallery.js';
import { type EmbeddingSpace, Gallery } from '../../faces/gallery/gallery.js';
import { UnknownStore } from '../../faces/unknowns/store.js';
import type { Logger } from '../../log.js';
import { openInDataDir } from '../../util/startup-errors.js';
import type { ModuleScope } from '../module.js';
import type { ClusterLink } from './cluster-link.js';

export interface FaceStores {
  gallery: Gallery;
  alerts: AlertStore;
  unknowns: UnknownStore;
  audit: AuditLog;
}

export async function openFaceStores(
  config: VigilConfig,
  space: EmbeddingSpace,
  threshold: number,
  log: Logger,
  scope: ModuleScope,
  cluster?: ClusterLink,
): Promise<FaceStores> {
  if (!cluster)
    return openStores(config, faceDatabase(config).file, (f) => new Gallery(f, space), threshold, log, scope);
  const file = join(config.dataDir, `cluster-${cluster.config.node}.db`);
  const stores = openStores(config, file, (f) => new ClusterGallery(f, space), threshold, log, scope);
  await migrateGallery(cluster.pool);
  const sync = new GallerySync(
    new PgGallery(cluster.pool),
    stores.gallery as ClusterGallery,
    cluster.config,
    log,
  );
  await sync.start();
  const feedback = await startFeedbackSync(
    cluster.pool,
    stores.gallery as ClusterGallery,
    cluster.config,
    log,
  );
  // stopped before the gallery closes (registered after it)
  scope.onStop(() => sync.stop());
  scope.onStop(() => feedback.stop());
  return stores;
}

function openStores(
  config: VigilConfig,
  file: string,
  openGallery: (file: string) => Gallery,
  threshold: number,
  log: Logger,
  scope: ModuleScope,
): FaceStores {
  // <dataDir>/vigil.db, or the demo gallery's own database on the embedded demo (demo-gallery.ts)
  return openInDataDir(config.dataDir, file, () => {
    const gallery = openGallery(file);
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
