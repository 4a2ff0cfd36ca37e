/**
 * Merging the detections of overlapping tiles (and of the whole-frame pass) into one list per frame.
 * A face cut by a tile's inner edge is seen twice: whole in the neighbouring tile (the tiles overlap
 * by more than a small face) and as a partial box in this one, which overlaps the whole box too
 * little for IoU-based NMS to drop it (a half box has IoU 0.5 at best, often under 0.3). So boxes
 * touching an inner tile edge are marked `cut` and lose to uncut ones, and a box mostly inside a
 * kept one (intersection over the smaller area) is the same face, whatever the IoU.
 */
import type { Detection } from '../../inference/contract.js';
import type { Rect } from '../../inference/preprocess.js';
import { iou } from './blazeface.js';

/** A box this close (frame px) to a tile's inner edge is taken as cut by it. */
export const CUT_EDGE_PX = 2;
/** Intersection over the smaller box above which two boxes are one face. */
export const CONTAINED = 0.6;

export interface TileDetections {
  rect: Rect;
  detections: Detection[];
}

/** True when `box` touches an edge of `rect` that is not an edge of the frame. */
export function cutByTile(
  box: Detection['box'],
  rect: Rect,
  frame: { width: number; height: number },
): boolean {
  const e = CUT_EDGE_PX;
  const left = rect.x > 0 && box[0] <= rect.x + e;
  const top = rect.y > 0 && box[1] <= rect.y + e;
  const right = rect.x + rect.w < frame.width && box[2] >= rect.x + rect.w - e;
  const bottom = rect.y + rect.h < frame.height && box[3] >= rect.y + rect.h - e;
  return left || top || right || bottom;
}

function overlapOfSmaller(a: Detection['box'], b: Detection['box']): number {
  const ix = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const iy = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const small = Math.min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]));
  return small > 0 ? (ix * iy) / small : 0;
}

/**
 * One frame's detections from its tiles (boxes already in frame pixels): uncut boxes first, then by
 * score; a box is dropped when it overlaps a kept one by more than `iouThreshold` (IoU) or lies
 * mostly inside it (CONTAINED). At most `maxFaces`.
 */
export function mergeTiles(
  tiles: TileDetections[],
  frame: { width: number; height: number },
  iouThreshold: number,
  maxFaces: number,
): Detection[] {
  const cands = tiles.flatMap((t) => t.detections.map((d) => ({ d, cut: cutByTile(d.box, t.rect, frame) })));
  cands.sort((a, b) => Number(a.cut) - Number(b.cut) || b.d.score - a.d.score);
  const keep: Detection[] = [];
  for (const { d } of cands) {
    if (keep.length >= maxFaces) break;
    if (keep.every((k) => iou(k.box, d.box) <= iouThreshold && overlapOfSmaller(k.box, d.box) <= CONTAINED))
      keep.push(d);
  }
  return keep.sort((a, b) => b.score - a.score);
}
