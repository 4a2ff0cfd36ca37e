/**
 * Enrolling a person from an alert's snapshot. Alerts store where the face is in their snapshot, so
 * the face is embedded from that box and keypoints directly (the same crop the live pipeline takes),
 * never lost to a second detection. Alerts stored before that (no face position) fall back to
 * searching the snapshot: as it is, then padded, so that the face no longer fills the picture and is
 * at a size the detector finds (a face filling most of a small crop is often missed).
 */
import sharp from 'sharp';
import { cropJpeg, decodeImage, ImageError } from '../util/image.js';
import type { RgbImage } from '../util/rgb.js';
import type { AlertStore } from './alerts.js';
import type { AnalyzedFace, FaceEngine } from './engine.js';
import { GalleryError, type Person, type PhotoInput } from './gallery/gallery.js';
import { personName } from './person-name.js';
import type { FaceService } from './service.js';
import type { SnapshotFace } from './snapshot.js';

/**
 * Padding tried around a snapshot without a stored face, per side, as a fraction of its size. The
 * detector scales every image to its 256 px input (up or down), so padding is what changes the
 * face's size there: an old 192 px snapshot's face (~128 px, two thirds of it) becomes ~57 px of
 * the input padded by 1, the size of faces BlazeFace finds best, with context around it.
 */
export const SEARCH_PADS = [0, 0.5, 1] as const;
const PAD_GREY = { r: 128, g: 128, b: 128 };

/** Pads `img` on every side by `pad` x its size (neutral grey) and returns it with the padding in px. */
async function padded(img: RgbImage, pad: number): Promise<{ img: RgbImage; dx: number; dy: number }> {
  const dx = Math.round(img.width * pad);
  const dy = Math.round(img.height * pad);
  const { data, info } = await sharp(img.pixels, {
    raw: { width: img.width, height: img.height, channels: 3 },
  })
    .extend({ top: dy, bottom: dy, left: dx, right: dx, background: PAD_GREY })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return {
    img: {
      width: info.width,
      height: info.height,
      pixels: new Uint8Array(data.buffer, data.byteOffset, data.length),
    },
    dx,
    dy,
  };
}

/**
 * The alert's face in a snapshot that has no stored face position: the face nearest the centre (a
 * snapshot is centred on its alert's face; neighbours may show at the edges), searched for in the
 * snapshot as it is and then padded. Undefined when no attempt finds one.
 */
export async function searchSnapshotFace(
  engine: FaceEngine,
  img: RgbImage,
): Promise<SnapshotFace | undefined> {
  for (const pad of SEARCH_PADS) {
    const p = pad ? await padded(img, pad) : { img, dx: 0, dy: 0 };
    const faces = await engine.detect(p.img);
    if (!faces.length) continue;
    const [cx, cy] = [p.img.width / 2, p.img.height / 2];
    const off = (b: SnapshotFace['box']) => Math.hypot((b[0] + b[2]) / 2 - cx, (b[1] + b[3]) / 2 - cy);
    const f = faces.reduce((a, b) => (off(b.box) < off(a.box) ? b : a));
    const back = (x: number, y: number): [number, number] => [x - p.dx, y - p.dy];
    const [x1, y1] = back(f.box[0], f.box[1]);
    const [x2, y2] = back(f.box[2], f.box[3]);
    return { box: [x1, y1, x2, y2], landmarks: f.landmarks.map(([x, y]) => back(x, y)) };
  }
  return undefined;
}

/** A gallery photo from a snapshot: the face at `face` (or, without one, the face searched for). */
export async function snapshotPhoto(
  engine: FaceEngine,
  jpeg: Buffer,
  face: SnapshotFace | undefined,
  label: string,
): Promise<PhotoInput> {
  const img = await decodeImage(jpeg);
  const at = face ?? (await searchSnapshotFace(engine, img));
  if (!at) {
    const wide = 1 + 2 * (SEARCH_PADS.at(-1) ?? 0);
    throw new ImageError(
      `${label}: no face found in its ${img.width}x${img.height} snapshot, not even with it padded to ` +
        `${Math.round(img.width * wide)}x${Math.round(img.height * wide)}. The alert was stored without ` +
        'the position of its face (by an older Vigil), so the face had to be detected again in the crop; ' +
        'enroll this person from a photo instead (POST /api/people?name=NAME)',
    );
  }
  const [e] = await engine.embedFaces(img, [at], 0);
  return {
    image: jpeg,
    thumbnail: await cropJpeg(img, at.box, { size: 160 }),
    box: at.box,
    landmarks: at.landmarks,
    embedding: (e as AnalyzedFace).embedding,
  };
}

/** Enrolls the face of alert `alertId` as a new person named `name`, and marks the alert enrolled. */
export async function enrollFromAlert(
  service: FaceService,
  alerts: AlertStore,
  alertId: number,
  name: string,
): Promise<Person> {
  const n = personName(name);
  if (!alerts.get(alertId))
    throw new GalleryError(`alert ${alertId} has no snapshot: there is no such alert`, 404);
  const snap = alerts.snapshotWithFace(alertId);
  if (!snap)
    throw new GalleryError(
      `alert ${alertId} has no snapshot (snapshots are deleted after retention.snapshotDays days)`,
      404,
    );
  service.gallery.assertNameFree(n); // before the embedding; addPerson checks again atomically
  const photo = await snapshotPhoto(service.engine, snap.jpeg, snap.face, `alert ${alertId}`);
  const person = service.gallery.addPerson(n, [photo]);
  alerts.markEnrolled(alertId, person.id);
  return person;
}
