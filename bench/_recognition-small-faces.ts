/**
 * The small-face section of `npm run bench -- recognition` (issue #14 item 1): recall, false boxes
 * per frame and ms per frame of each detector option on the labelled small-face set
 * (test/helpers/small-face-set.ts: real faces scaled to 12-48 px tall, composited into frames of the
 * shared clip at 640x360, 820x460 and 1280x720), next to face-api's SSD-MobileNet v1 on the same
 * frames. Recall is also given per face-height bucket. Times: one worker (Vigil) or one thread
 * (face-api), wasm, on this machine: compare them as ratios within one run.
 */
import { DEFAULT_DETECTOR } from '../src/faces/detect/blazeface.js';
import { detectTask } from '../src/faces/tasks/index.js';
import type { Detection } from '../src/inference/contract.js';
import { InferenceHost } from '../src/inference/host.js';
import { tileRects } from '../src/inference/preprocess.js';
import { shared } from '../src/util/rgb.js';
import { faceApiSsd } from '../test/helpers/faceapi-ssd.js';
import { matchFrame, type SmallFaceScore, scoreSmallFaces } from '../test/helpers/small-face-score.js';
import {
  DEFAULT_SMALL_FACES,
  type SmallFaceSet,
  smallFaceSet,
  smallFaceSetMissing,
} from '../test/helpers/small-face-set.js';

/** The detector options measured: Vigil's detect task settings, by name. */
export const SMALL_FACE_OPTIONS: ReadonlyArray<{
  name: string;
  model: string;
  tiles: number;
  minScore: number;
}> = [
  { name: 'blazeface whole frame', model: 'blazeface', tiles: 1, minScore: 0.6 },
  { name: 'blazeface tiles 2', model: 'blazeface', tiles: 2, minScore: 0.6 },
  { name: 'blazeface tiles 3', model: 'blazeface', tiles: 3, minScore: 0.6 },
  { name: 'blazeface tiles 4', model: 'blazeface', tiles: 4, minScore: 0.6 },
  { name: 'blazeface tiles 5', model: 'blazeface', tiles: 5, minScore: 0.6 },
  { name: 'blazeface tiles 6', model: 'blazeface', tiles: 6, minScore: 0.6 },
];

const SSD_MIN_CONFIDENCE = [0.5, 0.3];

interface Row {
  detector: string;
  score: SmallFaceScore;
  msPerFrame: number;
}

/** Detector-input pixels (face height in the 256 px model input), the camera-independent measure. */
const INPUT_PX_BUCKETS = [0, 6, 9, 12, 16, 24, Number.POSITIVE_INFINITY];

/** Recall by face height in detector-input pixels (tiles: the tile's scale; 1: the whole frame's). */
function recallByInputPx(frames: SmallFaceSet['frames'], dets: Detection[][], tiles: number, input: number) {
  const rows = INPUT_PX_BUCKETS.slice(0, -1).map((lo, i) => ({
    inputPx: `${lo}-${INPUT_PX_BUCKETS[i + 1]}`,
    faces: 0,
    found: 0,
  }));
  frames.forEach((f, i) => {
    const side = Math.max(...tileRects(f.image.width, f.image.height, tiles).map((r) => Math.max(r.w, r.h)));
    const m = matchFrame(f, dets[i] ?? []);
    f.faces.forEach((face, k) => {
      const px = ((face.box[3] - face.box[1]) * input) / side;
      const b = rows[INPUT_PX_BUCKETS.findIndex((v, j) => px >= v && px < (INPUT_PX_BUCKETS[j + 1] ?? 0))];
      if (!b) return;
      b.faces++;
      if (m.found[k]) b.found++;
    });
  });
  return rows.map((r) => ({ ...r, recall: r.faces ? r.found / r.faces : Number.NaN }));
}

function table(rows: Row[]): string {
  const buckets = rows[0]?.score.buckets.map((b) => b.bucket) ?? [];
  const head = ['detector', 'recall', ...buckets.map((b) => `${b} px`), 'false/frame', 'ms/frame'];
  const lines = rows.map((r) => [
    r.detector,
    r.score.recall.toFixed(2),
    ...r.score.buckets.map((b) => `${b.recall.toFixed(2)} (${b.found}/${b.faces})`),
    r.score.falsePerFrame.toFixed(2),
    r.msPerFrame.toFixed(0),
  ]);
  const all = [head, ...lines];
  const w = head.map((_, i) => Math.max(...all.map((l) => (l[i] as string).length)));
  const fmt = (l: string[]) => `| ${l.map((c, i) => c.padEnd(w[i] as number)).join(' | ')} |`;
  return [fmt(head), `|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`, ...lines.map(fmt)].join('\n');
}

export async function runSmallFaces(opts: {
  progress: (msg: string) => void;
}): Promise<{ title: string; table: string; json: unknown }> {
  const title = 'Small faces: recall, false boxes per frame and ms per frame by detector';
  const missing = smallFaceSetMissing();
  if (missing) return { title, table: `skipped: ${missing}`, json: { skipped: missing } };
  const set = await smallFaceSet(DEFAULT_SMALL_FACES, opts.progress);
  const frames = set.frames.map((f) => shared(f.image));
  opts.progress(
    `small faces: ${frames.length} frames, ${set.frames.reduce((s, f) => s + f.faces.length, 0)} faces`,
  );
  const rows: Row[] = [];
  const byInputPx: Array<{ detector: string; buckets: ReturnType<typeof recallByInputPx> }> = [];
  for (const o of SMALL_FACE_OPTIONS) {
    const host = new InferenceHost({
      workers: 1,
      backend: 'wasm',
      tasks: [
        detectTask({
          model: o.model,
          options: { ...DEFAULT_DETECTOR, minScore: o.minScore },
          tiles: o.tiles,
        }),
      ],
    });
    await host.start();
    const dets: Detection[][] = [];
    const t0 = performance.now();
    for (const f of frames) dets.push((await host.run('detect', [f])).result[0] ?? []);
    const msPerFrame = (performance.now() - t0) / frames.length;
    await host.close();
    rows.push({ detector: o.name, score: scoreSmallFaces(set.frames, dets), msPerFrame });
    byInputPx.push({ detector: o.name, buckets: recallByInputPx(set.frames, dets, o.tiles, 256) });
    opts.progress(`small faces: ${o.name}: recall ${rows.at(-1)?.score.recall.toFixed(2)}`);
  }
  // face-api's default confidence, and a lower one: it scores these composites 0.1-0.5
  for (const minConfidence of SSD_MIN_CONFIDENCE) {
    const ssd = await faceApiSsd(minConfidence);
    const ssdDets = [];
    const t0 = performance.now();
    for (const f of set.frames) ssdDets.push(await ssd.detect(f.image));
    rows.push({
      detector: `face-api SSD-MobileNet v1 (peer, minConfidence ${minConfidence})`,
      score: scoreSmallFaces(set.frames, ssdDets),
      msPerFrame: (performance.now() - t0) / set.frames.length,
    });
    ssd.dispose();
  }
  return {
    title,
    table: `${table(rows)}\n\nBlazeFace recall by face height in model-input px (256 input; whole frame or tile):\n${byInputPx
      .map(
        (r) =>
          `  ${r.detector}: ${r.buckets.map((b) => `${b.inputPx}: ${Number.isNaN(b.recall) ? '-' : b.recall.toFixed(2)} (${b.faces})`).join(', ')}`,
      )
      .join('\n')}`,
    json: {
      set: { dir: set.dir, options: DEFAULT_SMALL_FACES, frames: frames.length },
      rows: rows.map((r) => ({ detector: r.detector, msPerFrame: r.msPerFrame, ...r.score })),
      recallByInputPx: byInputPx,
    },
  };
}
