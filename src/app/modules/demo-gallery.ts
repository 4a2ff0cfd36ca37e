/**
 * The demo gallery (src/faces/demo-gallery.ts): on the embedded demo with `demoGallery` on, the
 * demo people are enrolled into the demo gallery's own database at its first start, before the
 * streams run, so the first frames already show names. Any other configuration: nothing happens.
 */
import { enrollDemoPeople, faceDatabase } from '../../faces/demo-gallery.js';
import { defineModule } from '../module.js';
import type { ClusterLinkContext } from './cluster-link.js';
import type { BaseContext } from './base.js';
import type { FacesContext } from './faces.js';

export interface DemoGalleryContext {
  /** True when recognition runs on the demo gallery (not the user's own). */
  readonly demoGallery: boolean;
}

export const demoGalleryModule = defineModule<
  BaseContext & FacesContext & ClusterLinkContext,
  DemoGalleryContext
>({
  name: 'demo gallery',
  start: async ({ config, faces, log, clusterLink }) => {
    // a cluster's gallery is its PostgreSQL one: the demo people are never enrolled into it
    if (clusterLink) return { demoGallery: false };
    const db = faceDatabase(config);
    if (db.ignored) log.warn(db.ignored);
    if (!db.demo || !faces) return { demoGallery: false };
    const t0 = performance.now();
    const r = await enrollDemoPeople(db, faces);
    for (const f of r.failed) log.warn({ person: f.name, err: f.error }, 'demo gallery: enrollment failed');
    if (!r.already)
      log.info(
        { people: r.enrolled, ms: Math.round(performance.now() - t0), file: db.file },
        'demo gallery: demo people enrolled from the demo photos',
      );
    log.info(
      { file: db.file, people: faces.gallery.list().length },
      'demo gallery in use (your own gallery is not touched; demoGallery: false turns it off)',
    );
    return { demoGallery: true };
  },
});
