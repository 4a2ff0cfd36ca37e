import type { Detection, TensorData } from '../../inference/contract.js';
import { type Letterbox, unletterbox } from '../../inference/preprocess.js';

export interface DetectorOptions {
  /** Minimum face score (0..1). */
  minScore: number;
  /** Boxes overlapping more than this (IoU) with a better one are suppressed. */
  iouThreshold: number;
  maxFaces: number;
  /** Minimum face width in frame pixels. */
  minSizePx: number;
}

export const DEFAULT_DETECTOR: DetectorOptions = {
  minScore: 0.6,
  iouThreshold: 0.3,
  maxFaces: 50,
  minSizePx: 0,
};

/** BlazeFace anchors, in input pixels: stride size/16 with 2 anchors per cell, stride size/8 with 6. */
export function blazefaceAnchors(size: number): Float32Array {
  const spec = [
    { stride: size / 16, n: 2 },
    { stride: size / 8, n: 6 },
  ];
  const out: number[] = [];
  for (const { stride, n } of spec) {
    const cells = Math.floor((size + stride - 1) / stride);
    for (let gy = 0; gy < cells; gy++)
      for (let gx = 0; gx < cells; gx++)
        for (let k = 0; k < n; k++) out.push(stride * (gx + 0.5), stride * (gy + 0.5));
  }
  return new Float32Array(out);
}

export function iou(a: Detection['box'], b: Detection['box']): number {
  const ix = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const iy = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = ix * iy;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0 ? inter / union : 0;
}

/** Greedy non-maximum suppression; input need not be sorted. */
export function nms(dets: Detection[], iouThreshold: number, max: number): Detection[] {
  const sorted = [...dets].sort((a, b) => b.score - a.score);
  const keep: Detection[] = [];
  for (const d of sorted) {
    if (keep.length >= max) break;
    if (keep.every((k) => iou(k.box, d.box) <= iouThreshold)) keep.push(d);
  }
  return keep;
}

/**
 * Decodes BlazeFace outputs for image `b` of a batch: outputs are [scores_512, boxes_512, scores_384,
 * boxes_384] (16 regressors per anchor: centre offset, size, 6 keypoints), all in input pixels.
 * Boxes are mapped back to frame pixels through the letterbox and clipped to the frame.
 */
export function decodeBlazeface(
  outputs: TensorData[],
  b: number,
  anchors: Float32Array,
  lb: Letterbox,
  frame: { width: number; height: number },
  opts: DetectorOptions,
): Detection[] {
  const [s1, r1, s2, r2] = outputs;
  if (!s1 || !r1 || !s2 || !r2) throw new Error('blazeface: expected 4 outputs');
  const parts = [
    { s: s1, r: r1 },
    { s: s2, r: r2 },
  ];
  const logitMin = Math.log(opts.minScore / (1 - opts.minScore));
  const cands: Detection[] = [];
  let anchorBase = 0;
  for (const { s, r } of parts) {
    const n = s.shape[1] as number;
    const sOff = b * n;
    const rOff = b * n * 16;
    for (let i = 0; i < n; i++) {
      const logit = s.data[sOff + i] as number;
      if (logit < logitMin) continue;
      const ax = anchors[(anchorBase + i) * 2] as number;
      const ay = anchors[(anchorBase + i) * 2 + 1] as number;
      const q = rOff + i * 16;
      const cx = ax + (r.data[q] as number);
      const cy = ay + (r.data[q + 1] as number);
      const w = r.data[q + 2] as number;
      const h = r.data[q + 3] as number;
      const [x1, y1] = unletterbox(lb, cx - w / 2, cy - h / 2);
      const [x2, y2] = unletterbox(lb, cx + w / 2, cy + h / 2);
      const landmarks: Array<[number, number]> = [];
      for (let k = 0; k < 6; k++)
        landmarks.push(
          unletterbox(lb, ax + (r.data[q + 4 + 2 * k] as number), ay + (r.data[q + 5 + 2 * k] as number)),
        );
      cands.push({
        box: [Math.max(0, x1), Math.max(0, y1), Math.min(frame.width, x2), Math.min(frame.height, y2)],
        score: 1 / (1 + Math.exp(-logit)),
        landmarks,
      });
    }
    anchorBase += n;
  }
  const sized = cands.filter(
    (d) => d.box[2] - d.box[0] >= opts.minSizePx && d.box[2] > d.box[0] && d.box[3] > d.box[1],
  );
  return nms(sized, opts.iouThreshold, opts.maxFaces);
}
