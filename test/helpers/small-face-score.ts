/**
 * Scores a detector on the small-face set: recall per face-height bucket and false boxes per frame.
 * A detection finds a labelled face when each box's centre lies inside the other and their heights
 * are within 2.2x: detectors draw faces differently (BlazeFace square around eyes-to-mouth,
 * SSD-MobileNet taller, to the hairline), so an IoU threshold would score the box style, not
 * whether the face was found. Detections on the scene's own faces (`ignore`) count for nothing.
 */
import { SIZE_BUCKETS, type SmallFaceFrame } from './small-face-set.js';
import type { Box } from './faceapi-ssd.js';

export interface BucketScore {
  bucket: string;
  faces: number;
  found: number;
  recall: number;
}

export interface SmallFaceScore {
  frames: number;
  faces: number;
  found: number;
  recall: number;
  falseBoxes: number;
  falsePerFrame: number;
  buckets: BucketScore[];
}

const centre = (b: Box): [number, number] => [(b[0] + b[2]) / 2, (b[1] + b[3]) / 2];
const inside = ([x, y]: [number, number], b: Box) => x >= b[0] && x <= b[2] && y >= b[1] && y <= b[3];

/** True when detection `d` is the face labelled `g` (see the file comment). */
export function sameFace(d: Box, g: Box): boolean {
  const ratio = (d[3] - d[1]) / (g[3] - g[1]);
  return inside(centre(d), g) && inside(centre(g), d) && ratio >= 1 / 2.2 && ratio <= 2.2;
}

export function bucketOf(height: number): string {
  for (const [lo, hi] of SIZE_BUCKETS) if (height >= lo && height < hi) return `${lo}-${hi}`;
  const last = SIZE_BUCKETS.at(-1) as readonly [number, number];
  return height >= last[1] ? `${last[0]}-${last[1]}` : `${SIZE_BUCKETS[0]?.[0]}-${SIZE_BUCKETS[0]?.[1]}`;
}

/** Matches one frame's detections (best score first, each face found once). */
export function matchFrame(
  frame: Pick<SmallFaceFrame, 'faces' | 'ignore'>,
  dets: Array<{ box: Box; score: number }>,
): { found: boolean[]; falseBoxes: number } {
  const found = frame.faces.map(() => false);
  let falseBoxes = 0;
  for (const d of [...dets].sort((a, b) => b.score - a.score)) {
    const i = frame.faces.findIndex((f, k) => !found[k] && sameFace(d.box, f.box));
    if (i >= 0) found[i] = true;
    else if (frame.faces.some((f) => sameFace(d.box, f.box)))
      falseBoxes++; // a duplicate
    else if (!frame.ignore.some((g) => inside(centre(d.box), g) || inside(centre(g), d.box))) falseBoxes++;
  }
  return { found, falseBoxes };
}

/** Scores detections `dets[i]` of `frames[i]`. */
export function scoreSmallFaces(
  frames: ReadonlyArray<Pick<SmallFaceFrame, 'faces' | 'ignore'>>,
  dets: ReadonlyArray<ReadonlyArray<{ box: Box; score: number }>>,
): SmallFaceScore {
  const buckets = new Map<string, BucketScore>(
    SIZE_BUCKETS.map(([lo, hi]) => [`${lo}-${hi}`, { bucket: `${lo}-${hi}`, faces: 0, found: 0, recall: 0 }]),
  );
  let falseBoxes = 0;
  frames.forEach((frame, i) => {
    const m = matchFrame(frame, [...(dets[i] ?? [])]);
    falseBoxes += m.falseBoxes;
    frame.faces.forEach((f, k) => {
      const b = buckets.get(bucketOf(f.box[3] - f.box[1])) as BucketScore;
      b.faces++;
      if (m.found[k]) b.found++;
    });
  });
  const list = [...buckets.values()].map((b) => ({ ...b, recall: b.faces ? b.found / b.faces : 0 }));
  const faces = list.reduce((s, b) => s + b.faces, 0);
  const found = list.reduce((s, b) => s + b.found, 0);
  return {
    frames: frames.length,
    faces,
    found,
    recall: faces ? found / faces : 0,
    falseBoxes,
    falsePerFrame: frames.length ? falseBoxes / frames.length : 0,
    buckets: list,
  };
}
