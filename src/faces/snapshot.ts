/**
 * Alert snapshots: a JPEG of a face with room around it, and where the face is inside that JPEG.
 * The position is what makes an alert enrollable: the face is embedded from it the way live
 * recognition embedded it, instead of being searched for again in a crop the detector was never
 * meant to see (a face filling most of a small image is often not found there).
 */
import sharp from 'sharp';
import { z } from 'zod';
import type { Detection } from '../inference/contract.js';
import { cropRect } from '../util/image.js';
import type { RgbImage } from '../util/rgb.js';

/** Where the face is in a snapshot (snapshot pixels): the detector's box and keypoints. */
export interface SnapshotFace {
  box: [number, number, number, number];
  landmarks: Array<[number, number]>;
}

const finite = z.number().finite();
/** A stored SnapshotFace (read back from the database: checked, not trusted). */
export const SnapshotFaceSchema = z
  .object({
    box: z.tuple([finite, finite, finite, finite]).refine(([x1, y1, x2, y2]) => x2 > x1 && y2 > y1, {
      message: 'box must be [x1, y1, x2, y2] with x2 > x1 and y2 > y1',
    }),
    landmarks: z.array(z.tuple([finite, finite])).max(16),
  })
  .strict();

export interface SnapshotOptions {
  /** Longer side of the JPEG (px): small faces are upscaled to it, large ones downscaled. */
  size: number;
  /**
   * Room around the face box on each side, as a fraction of the box: 0.5 gives a picture twice the
   * face's size (head and shoulders, for an operator to tell who it is), which also holds the whole
   * crop the embedder takes (context 1.6 x the box), so enrolling from the snapshot sees what live
   * recognition saw.
   */
  margin: number;
  quality?: number;
}

/** Cuts the snapshot of `face` from `img` and maps the face into the snapshot's pixels. */
export async function faceSnapshot(
  img: RgbImage,
  face: Pick<Detection, 'box' | 'landmarks'>,
  opts: SnapshotOptions,
): Promise<{ jpeg: Buffer; face: SnapshotFace }> {
  const rect = cropRect(img, face.box, opts.margin);
  const { data, info } = await sharp(img.pixels, {
    raw: { width: img.width, height: img.height, channels: 3 },
  })
    .extract(rect)
    .resize({ width: opts.size, height: opts.size, fit: 'inside' })
    .jpeg({ quality: opts.quality ?? 90 })
    .toBuffer({ resolveWithObject: true });
  const sx = info.width / rect.width;
  const sy = info.height / rect.height;
  const at = (x: number, y: number): [number, number] => [(x - rect.left) * sx, (y - rect.top) * sy];
  const [x1, y1] = at(face.box[0], face.box[1]);
  const [x2, y2] = at(face.box[2], face.box[3]);
  return {
    jpeg: data,
    face: { box: [x1, y1, x2, y2], landmarks: face.landmarks.map(([x, y]) => at(x, y)) },
  };
}
