/**
 * The demo gallery: people of the embedded demo's photos (they ship with @vladmandic/face-api), so
 * that `npm start` shows recognition at work with no camera and no photos of one's own. One person
 * is enrolled from each of the six photos and everyone else in them is left unenrolled, so the demo
 * camera shows named people and unknown faces side by side.
 *
 * Never mixed into a user's gallery: the demo people live in their own database
 * (`<dataDir>/demo-gallery.db`, with its own alerts and unknown faces), used only when `demoGallery`
 * is on and every stream is the embedded demo. Any other configuration, or `demoGallery: false`,
 * opens `<dataDir>/vigil.db`, which the demo never writes.
 */
import { join } from 'node:path';
import sharp from 'sharp';
import type { VigilConfig } from '../config/schema.js';
import { packageRoot } from '../util/packages.js';
import type { AuditLog } from './audit.js';
import type { Gallery } from './gallery/gallery.js';
import type { FaceService } from './service.js';

export const DEMO_GALLERY_FILE = 'demo-gallery.db';
export const USER_GALLERY_FILE = 'vigil.db';

/** Which database recognition uses for a configuration, and why. */
export interface FaceDatabase {
  file: string;
  demo: boolean;
  /** Set when demoGallery is on but cannot apply (streams that are not the demo source). */
  ignored?: string;
}

/** The gallery database of a configuration: the demo gallery only on an all-demo configuration. */
export function faceDatabase(config: Pick<VigilConfig, 'dataDir' | 'demoGallery' | 'streams'>): FaceDatabase {
  const user = { file: join(config.dataDir, USER_GALLERY_FILE), demo: false };
  if (!config.demoGallery) return user;
  const others = config.streams.filter((s) => !s.demo).map((s) => s.id);
  if (others.length)
    return {
      ...user,
      ignored: `demoGallery is on but streams ${others.join(', ')} are not the embedded demo: using your own gallery`,
    };
  return { file: join(config.dataDir, DEMO_GALLERY_FILE), demo: true };
}

export interface DemoPerson {
  name: string;
  /** A photo of the embedded demo (node_modules/@vladmandic/face-api/demo). */
  photo: string;
  /** The face's box in the photo's pixels [x1, y1, x2, y2], measured with BlazeFace. */
  box: [number, number, number, number];
}

/**
 * One person per photo (the demo shows each photo for 4 s, in this order). Chosen so that no one
 * left unenrolled looks like an enrolled person: the highest similarity of an unenrolled face to
 * an enrolled one is 0.54 (faceres, box crop 1.6), below the 0.58 threshold. Two unenrolled faces
 * (sample1's right and sample3's middle, similarity 0.71) are likely the same woman: they cluster
 * together among the unknown faces.
 */
export const DEMO_PEOPLE: readonly DemoPerson[] = [
  { name: 'Ava (demo)', photo: 'sample1.jpg', box: [416, 404, 616, 604] },
  { name: 'Bea (demo)', photo: 'sample2.jpg', box: [353, 190, 559, 396] },
  { name: 'Cleo (demo)', photo: 'sample3.jpg', box: [590, 389, 790, 588] },
  { name: 'Dana (demo)', photo: 'sample4.jpg', box: [1282, 205, 1463, 386] },
  { name: 'Eve (demo)', photo: 'sample5.jpg', box: [1422, 440, 1632, 650] },
  { name: 'Faye (demo)', photo: 'sample6.jpg', box: [1465, 313, 1711, 558] },
];

/** Room around the face in the enrollment crop, as a fraction of the box side (not reaching a neighbour). */
const MARGIN = 0.35;

/** The JPEG crop of a demo person's face, from the installed package's photo. */
export async function demoFaceCrop(p: DemoPerson): Promise<Buffer> {
  const file = join(packageRoot('@vladmandic/face-api'), 'demo', p.photo);
  const img = sharp(file);
  const { width = 0, height = 0 } = await img.metadata();
  const [x1, y1, x2, y2] = p.box;
  const mx = (x2 - x1) * MARGIN;
  const my = (y2 - y1) * MARGIN;
  const left = Math.max(0, Math.round(x1 - mx));
  const top = Math.max(0, Math.round(y1 - my));
  const right = Math.min(width, Math.round(x2 + mx));
  const bottom = Math.min(height, Math.round(y2 + my));
  return img
    .extract({ left, top, width: right - left, height: bottom - top })
    .jpeg({ quality: 92 })
    .toBuffer();
}

/** Remembers, in the demo database, that the demo people were enrolled (deleted ones stay deleted). */
function seedMark(gallery: Gallery): { done(): boolean; mark(count: number): void } {
  gallery.db.exec(
    'CREATE TABLE IF NOT EXISTS demo_gallery (enrolled_at INTEGER NOT NULL, people INTEGER NOT NULL)',
  );
  return {
    done: () => gallery.db.prepare('SELECT 1 FROM demo_gallery LIMIT 1').get() !== undefined,
    mark: (count) => {
      gallery.db
        .prepare('INSERT INTO demo_gallery (enrolled_at, people) VALUES (?, ?)')
        .run(Date.now(), count);
    },
  };
}

export interface DemoSeedResult {
  enrolled: string[];
  /** People whose enrollment failed, with why (the others are still enrolled). */
  failed: Array<{ name: string; error: string }>;
  /** True when the demo gallery had been enrolled before (nothing done). */
  already: boolean;
}

/**
 * Enrolls the demo people into the demo gallery, once: at its first start, when it is empty.
 * Refuses any other gallery (the caller checks faceDatabase(...).demo; this is the last guard).
 */
export async function enrollDemoPeople(
  db: FaceDatabase,
  faces: { service: FaceService; gallery: Gallery; audit: AuditLog },
): Promise<DemoSeedResult> {
  if (!db.demo || !db.file.endsWith(DEMO_GALLERY_FILE))
    throw new Error(`refusing to enroll the demo people into ${db.file}: not the demo gallery`);
  const seed = seedMark(faces.gallery);
  if (seed.done() || faces.gallery.list().length) return { enrolled: [], failed: [], already: true };
  const result: DemoSeedResult = { enrolled: [], failed: [], already: false };
  for (const p of DEMO_PEOPLE) {
    try {
      const person = await faces.service.enroll(p.name, [await demoFaceCrop(p)]);
      faces.audit.record({
        actor: 'demo gallery',
        action: 'enroll',
        personId: person.id,
        name: person.name,
        detail: { source: `@vladmandic/face-api/demo/${p.photo}` },
      });
      result.enrolled.push(person.name);
    } catch (e) {
      result.failed.push({ name: p.name, error: (e as Error).message });
    }
  }
  // a start where nothing could be enrolled (a broken model) tries again next time
  if (result.enrolled.length) seed.mark(result.enrolled.length);
  return result;
}
