import sharp from 'sharp';
import { cropJpeg, cropRect } from '../../util/image.js';
import type { RgbImage } from '../../util/rgb.js';
import { dotF } from './cluster.js';

type Box = [number, number, number, number];

/**
 * A JPEG of a face for storage (the box plus 25% margin; alert snapshots keep more room, see
 * faces/snapshot.ts) and the face's box inside that JPEG (so the gallery can later re-embed it with
 * another model).
 */
export async function faceSnapshot(img: RgbImage, box: Box, size = 192): Promise<{ jpeg: Buffer; box: Box }> {
  const margin = 0.25;
  const { left, top, width, height } = cropRect(img, box, margin);
  const jpeg = await cropJpeg(img, box, { margin, size, quality: 90 });
  const meta = await sharp(jpeg).metadata();
  const sx = (meta.width ?? 1) / width;
  const sy = (meta.height ?? 1) / height;
  return {
    jpeg,
    box: [(box[0] - left) * sx, (box[1] - top) * sy, (box[2] - left) * sx, (box[3] - top) * sy],
  };
}

/** Copies the region of a frame a snapshot needs (so the frame can be released at once). */
export function copyRegion(img: RgbImage, box: Box): { image: RgbImage; box: Box } {
  const w = box[2] - box[0];
  const h = box[3] - box[1];
  const left = Math.max(0, Math.floor(box[0] - w * 0.25));
  const top = Math.max(0, Math.floor(box[1] - h * 0.25));
  const right = Math.min(img.width, Math.ceil(box[2] + w * 0.25));
  const bottom = Math.min(img.height, Math.ceil(box[3] + h * 0.25));
  const cw = Math.max(1, right - left);
  const ch = Math.max(1, bottom - top);
  const pixels = new Uint8Array(cw * ch * 3);
  for (let y = 0; y < ch; y++) {
    const src = ((top + y) * img.width + left) * 3;
    pixels.set(img.pixels.subarray(src, src + cw * 3), y * cw * 3);
  }
  return {
    image: { width: cw, height: ch, pixels },
    box: [box[0] - left, box[1] - top, box[2] - left, box[3] - top],
  };
}

/**
 * The JPEG of the member whose embedding is closest to the cluster's mean (largest dot product with
 * the cluster's sum): the cluster's most typical face. Undefined when no member has a snapshot.
 */
export function mostTypicalSnapshot(
  members: Array<{ embedding: Float32Array; snapshot: Buffer }>,
  clusterSum: Float32Array,
): Buffer | undefined {
  let best: Buffer | undefined;
  let bestS = Number.NEGATIVE_INFINITY;
  for (const m of members) {
    const s = dotF(m.embedding, clusterSum);
    if (s > bestS) {
      bestS = s;
      best = m.snapshot;
    }
  }
  return best;
}
