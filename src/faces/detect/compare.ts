/** The ONNX equivalence measure of a face detector: the same decoded boxes, within a pixel. */
import type { Detection } from '../../inference/contract.js';
import { type Equivalence, TOLERANCE } from '../../inference/onnx/verify.js';
import { iou } from './blazeface.js';

/**
 * Decoded detections of the same frames: each reference box must have a counterpart (best IoU) and
 * every coordinate within `TOLERANCE.boxPx`; extra or missing boxes fail (value = Infinity).
 */
export function compareDetections(ref: Detection[][], got: Detection[][], inputs: string): Equivalence {
  let worst = 0;
  let detail: string | undefined;
  ref.forEach((frame, f) => {
    const other = got[f] ?? [];
    if (other.length !== frame.length) {
      worst = Number.POSITIVE_INFINITY;
      detail ??= `frame ${f}: ${frame.length} boxes with tfjs, ${other.length} with ONNX`;
      return;
    }
    for (const d of frame) {
      let best: Detection | undefined;
      let bestIou = -1;
      for (const o of other) {
        const v = iou(d.box, o.box);
        if (v > bestIou) {
          bestIou = v;
          best = o;
        }
      }
      if (!best) continue;
      for (let k = 0; k < 4; k++)
        worst = Math.max(worst, Math.abs((d.box[k] as number) - (best.box[k] as number)));
    }
  });
  const ok = worst <= TOLERANCE.boxPx;
  if (!ok) detail ??= `a box moved by ${worst.toFixed(2)} px`;
  return {
    measure: 'box_px',
    value: worst,
    tolerance: TOLERANCE.boxPx,
    ok,
    inputs,
    ...(detail ? { detail } : {}),
  };
}
