/**
 * The detect task (worker side): BlazeFace on whole frames or tiles, all of a request's frames of
 * one variant (a camera's own settings, streams[].detect) in one batch. Frames are read in place (letterboxed straight from the shared pixels).
 */
import type { Detection, LoadedModel } from '../../inference/contract.js';
import { manifest } from '../../inference/model-loader.js';
import { type Letterbox, letterboxInto, type Rect, tileRects } from '../../inference/preprocess.js';
import { type LoadContext, registerTask } from '../../inference/task.js';
import type { RgbImage } from '../../util/rgb.js';
import { blazefaceAnchors, type DetectorOptions, decodeBlazeface } from '../detect/blazeface.js';
import { compareDetections } from '../detect/compare.js';
import { DETECTOR_MODELS } from '../detect/settings.js';
import { mergeTiles, type TileDetections } from '../detect/tiles.js';

export interface Detector {
  model: LoadedModel;
  size: number;
  anchors: Float32Array;
  options: DetectorOptions;
  tiles: number;
}

/** The detector inputs of one frame: the whole frame, and with tiles > 1 its tiles too. */
export function frameInputs(width: number, height: number, tiles: number): Rect[] {
  const whole = { x: 0, y: 0, w: width, h: height };
  // the whole-frame pass finds the faces too large for a tile's overlap (cut by every tiling)
  return tiles > 1 ? [whole, ...tileRects(width, height, tiles)] : [whole];
}

export async function detectWith(d: Detector, frames: RgbImage[]): Promise<Detection[][]> {
  const { size } = d;
  const per = size * size * 3;
  // Each frame becomes one input (whole frame) or several (tiles); all of them go in one batch.
  const jobs: Array<{ frame: number; rect: Rect }> = [];
  frames.forEach((f, i) => {
    for (const rect of frameInputs(f.width, f.height, d.tiles)) jobs.push({ frame: i, rect });
  });
  const batch = new Float32Array(per * jobs.length);
  const boxes: Letterbox[] = jobs.map((j, k) => {
    const f = frames[j.frame] as RgbImage;
    return letterboxInto(
      f.pixels,
      f.width,
      f.height,
      size,
      batch,
      k * per,
      1 / 127.5,
      -1,
      d.tiles > 1 ? j.rect : undefined,
    );
  });
  const outs = await d.model.run({ data: batch, shape: [jobs.length, size, size, 3] });
  const perFrame: TileDetections[][] = frames.map(() => []);
  jobs.forEach((j, k) => {
    const f = frames[j.frame] as RgbImage;
    const detections = decodeBlazeface(outs, k, d.anchors, boxes[k] as Letterbox, f, d.options);
    perFrame[j.frame]?.push({ rect: j.rect, detections });
  });
  return perFrame.map((tiles, i) =>
    tiles.length === 1
      ? (tiles[0]?.detections ?? [])
      : mergeTiles(tiles, frames[i] as RgbImage, d.options.iouThreshold, d.options.maxFaces),
  );
}

/** Frames of one request grouped by variant, each group one batch, results back in frame order. */
async function detectVariants(ds: Detector[], frames: RgbImage[], variant: number[] | undefined) {
  if (!variant || ds.length === 1) return detectWith(ds[0] as Detector, frames);
  const out: Detection[][] = frames.map(() => []);
  const groups = new Map<number, number[]>();
  variant.forEach((v, i) => {
    if (!ds[v]) throw new Error(`detect: frame ${i} asks for variant ${v}, the task has ${ds.length}`);
    groups.set(v, [...(groups.get(v) ?? []), i]);
  });
  for (const [v, idx] of groups) {
    const found = await detectWith(
      ds[v] as Detector,
      idx.map((i) => frames[i] as RgbImage),
    );
    idx.forEach((i, k) => {
      out[i] = found[k] ?? [];
    });
  }
  return out;
}

/** Loads (and checks, and warms up) a detector model once, however many variants use it. */
async function loadDetectorModel(name: string, options: DetectorOptions, ctx: LoadContext) {
  const m = manifest(name);
  if (!DETECTOR_MODELS.includes(name))
    throw new Error(`detect: "${name}" is not a detector model (detectors: ${DETECTOR_MODELS.join(', ')})`);
  const size = m.input[0];
  const base = { size, anchors: blazefaceAnchors(size), options, tiles: 1 };
  const { frames, label } = ctx.probe;
  const model = await ctx.loadModel(m, async (ref, cand) =>
    compareDetections(
      await detectWith({ ...base, model: ref }, frames),
      await detectWith({ ...base, model: cand }, frames),
      label,
    ),
  );
  // Warm-up: the first call compiles kernels; do it before real frames arrive.
  await model.run({ data: new Float32Array(size * size * 3), shape: [1, size, size, 3] });
  return { ...base, model };
}

registerTask<'detect', Detector[]>({
  kind: 'detect',
  async load(spec, ctx) {
    const loaded = new Map<string, Detector>();
    const out: Detector[] = [];
    for (const v of [spec, ...(spec.variants ?? [])]) {
      let m = loaded.get(v.model);
      if (!m) {
        m = await loadDetectorModel(v.model, spec.options, ctx);
        loaded.set(v.model, m);
      }
      out.push({ ...m, options: v.options, tiles: v.tiles ?? 1 });
    }
    return out;
  },
  run: (ds, frames, request) => detectVariants(ds, frames, request?.variant),
});
