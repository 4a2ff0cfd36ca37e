/**
 * A labelled small-face set, generated deterministically (seeded) from ../shared: real faces of the
 * shared photo sets (and face-api's demo photos) scaled down to 12-48 px tall and composited into real
 * scene frames of the shared clip (decoded at 640x360, upscaled to 820x460 and 1280x720 as a store
 * camera's soft picture is), each frame then JPEG-compressed as a camera would. Every pasted face has
 * its exact box; the clip's own faces (the stage, the blurred audience) are found by a generous
 * labelling pass (BlazeFace whole frame and tiled, and face-api's SSD-MobileNet, at low thresholds)
 * and kept as `ignore` regions: a detection there is neither a hit nor a false box, and no face is
 * pasted over them. Built once into a cache dir under the OS temp dir (never the repo), keyed by the
 * options and the generator's version.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { DEFAULT_DETECTOR } from '../../src/faces/detect/blazeface.js';
import { detectTask } from '../../src/faces/tasks/index.js';
import { InferenceHost } from '../../src/inference/host.js';
import { decodeVideoFrames } from '../../src/sources/video-frames.js';
import { decodeImage } from '../../src/util/image.js';
import { packageRoot } from '../../src/util/packages.js';
import type { RgbImage } from '../../src/util/rgb.js';
import { Rng } from '../../src/util/rng.js';
import { type Box, faceApiSsd } from './faceapi-ssd.js';
import { DATA } from './faces.js';

/** Bump when the output for the same options changes. */
const GENERATOR_VERSION = 2;

/** Face heights (label box, frame px) in buckets; each bucket gets the same number of faces. */
export const SIZE_BUCKETS: ReadonlyArray<readonly [number, number]> = [
  [12, 16],
  [16, 24],
  [24, 32],
  [32, 48],
];

export interface SmallFaceOptions {
  seed: number;
  /** Scene frame sizes (the clip is upscaled to each). */
  sizes: ReadonlyArray<readonly [number, number]>;
  /** Clip frames per size (taken evenly over the clip). */
  framesPerSize: number;
  facesPerFrame: number;
  /** Only faces of this height range (px); default all of SIZE_BUCKETS. */
  heightRange?: readonly [number, number];
}

export const DEFAULT_SMALL_FACES: SmallFaceOptions = {
  seed: 14,
  sizes: [
    [640, 360],
    [820, 460],
    [1280, 720],
  ],
  framesPerSize: 8,
  facesPerFrame: 8,
};

export interface SmallFaceFrame {
  image: RgbImage;
  /** Pasted faces: exact boxes [x1, y1, x2, y2], frame px. */
  faces: Array<{ box: Box; source: string }>;
  /** The scene's own faces: detections here are ignored. */
  ignore: Box[];
}

export interface SmallFaceSet {
  dir: string;
  frames: SmallFaceFrame[];
}

export interface SourceFace {
  img: RgbImage;
  box: Box;
  name: string;
}

/** Why the set cannot be built here (null when it can). */
export function smallFaceSetMissing(): string | null {
  for (const need of ['faces/facerec_photos', 'video/short_hamilton_clip.mp4'])
    if (!existsSync(join(DATA, need)))
      return `${join(DATA, need)} is absent (../shared/data): the small-face set is built from it`;
  return null;
}

/** The set for `opts`, from the cache when built before. Throws naming what is missing. */
export async function smallFaceSet(
  opts: SmallFaceOptions = DEFAULT_SMALL_FACES,
  progress: (msg: string) => void = () => {},
): Promise<SmallFaceSet> {
  const missing = smallFaceSetMissing();
  if (missing) throw new Error(`small-face set: ${missing}`);
  const key = createHash('sha256')
    .update(JSON.stringify({ v: GENERATOR_VERSION, opts }))
    .digest('hex')
    .slice(0, 16);
  const dir = join(tmpdir(), 'vigil-small-faces', key);
  const index = join(dir, 'labels.json');
  if (!existsSync(index)) {
    progress(`small-face set: building into ${dir}`);
    await build(opts, dir, progress);
  }
  const labels = JSON.parse(readFileSync(index, 'utf8')) as Array<
    Omit<SmallFaceFrame, 'image'> & { file: string; width: number; height: number }
  >;
  return {
    dir,
    frames: labels.map((l) => ({
      image: { width: l.width, height: l.height, pixels: new Uint8Array(readFileSync(join(dir, l.file))) },
      faces: l.faces,
      ignore: l.ignore,
    })),
  };
}

async function build(opts: SmallFaceOptions, dir: string, progress: (msg: string) => void) {
  const host = new InferenceHost({
    workers: 1,
    backend: 'wasm',
    tasks: [detectTask({ model: 'blazeface', options: { ...DEFAULT_DETECTOR, minScore: 0.5 } })],
  });
  await host.start();
  const ssd = await faceApiSsd(0.3);
  try {
    const sources = await sourceFaces(host);
    progress(`small-face set: ${sources.length} source faces`);
    const rng = new Rng(opts.seed);
    const clip = decodeVideoFrames(join(DATA, 'video', 'short_hamilton_clip.mp4'), {
      fps: 3,
      width: 640,
      height: 360,
    });
    mkdirSync(dir, { recursive: true });
    const labels: unknown[] = [];
    let n = 0;
    for (const [w, h] of opts.sizes) {
      for (let k = 0; k < opts.framesPerSize; k++) {
        const pick = clip[Math.floor(((k + 0.5) * clip.length) / opts.framesPerSize)] as RgbImage;
        const scene = await resize(pick, w, h);
        const ignore = await sceneFaces(scene, host, ssd);
        const { image, faces } = await composite(scene, ignore, sources, rng, opts);
        const file = `frame-${String(n++).padStart(3, '0')}.rgb`;
        writeFileSync(join(dir, file), image.pixels);
        labels.push({ file, width: w, height: h, faces, ignore });
      }
      progress(`small-face set: ${w}x${h} done`);
    }
    writeFileSync(join(dir, 'labels.json'), `${JSON.stringify(labels)}\n`);
  } finally {
    ssd.dispose();
    await host.close();
  }
}

/** Every face of the photo sets big enough to be labelled reliably (BlazeFace, score >= 0.8, >= 40 px). */
export async function sourceFaces(host: InferenceHost): Promise<SourceFace[]> {
  const files: string[] = [];
  for (const set of ['facerec_photos', 'bbt_crops', 'dlib_johns_crops']) {
    const root = join(DATA, 'faces', set);
    if (!existsSync(root)) continue;
    for (const id of readdirSync(root).sort())
      for (const f of readdirSync(join(root, id)).sort()) files.push(join(root, id, f));
  }
  const demo = join(packageRoot('@vladmandic/face-api'), 'demo');
  for (let i = 1; i <= 6; i++) files.push(join(demo, `sample${i}.jpg`));
  const out: SourceFace[] = [];
  for (const file of files) {
    if (!statSync(file).isFile()) continue;
    const img = await decodeImage(file, { maxSide: 1024 });
    const dets = (await host.run('detect', [img])).result[0] ?? [];
    for (const d of dets)
      if (d.score >= 0.8 && d.box[3] - d.box[1] >= 40) out.push({ img, box: d.box, name: file });
  }
  return out;
}

async function resize(img: RgbImage, width: number, height: number): Promise<RgbImage> {
  if (img.width === width && img.height === height) return img;
  const { data } = await sharp(img.pixels, { raw: { width: img.width, height: img.height, channels: 3 } })
    .resize(width, height, { fit: 'fill', kernel: 'cubic' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { width, height, pixels: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}

/**
 * The scene's own faces, generously (low thresholds, on purpose): BlazeFace on the whole frame and on
 * its four overlapping quarters (cut here, independent of the detect task's tiling under test), and
 * face-api's SSD-MobileNet.
 */
async function sceneFaces(
  scene: RgbImage,
  host: InferenceHost,
  ssd: Awaited<ReturnType<typeof faceApiSsd>>,
): Promise<Box[]> {
  const boxes: Box[] = [];
  for (const d of (await host.run('detect', [scene])).result[0] ?? []) boxes.push(d.box);
  const qw = Math.round(scene.width * 0.6);
  const qh = Math.round(scene.height * 0.6);
  for (const [x, y] of [
    [0, 0],
    [scene.width - qw, 0],
    [0, scene.height - qh],
    [scene.width - qw, scene.height - qh],
  ] as const) {
    const { data } = await sharp(scene.pixels, {
      raw: { width: scene.width, height: scene.height, channels: 3 },
    })
      .extract({ left: x, top: y, width: qw, height: qh })
      .raw()
      .toBuffer({ resolveWithObject: true });
    const quarter = { width: qw, height: qh, pixels: new Uint8Array(data) };
    for (const d of (await host.run('detect', [quarter])).result[0] ?? [])
      boxes.push([d.box[0] + x, d.box[1] + y, d.box[2] + x, d.box[3] + y]);
  }
  for (const d of await ssd.detect(scene)) boxes.push(d.box);
  return boxes.map((b) => b.map((v) => Math.round(v * 10) / 10) as Box);
}

const grow = (b: Box, f: number): Box => {
  const cx = (b[0] + b[2]) / 2;
  const cy = (b[1] + b[3]) / 2;
  const hw = ((b[2] - b[0]) * f) / 2;
  const hh = ((b[3] - b[1]) * f) / 2;
  return [cx - hw, cy - hh, cx + hw, cy + hh];
};
const overlaps = (a: Box, b: Box) => a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3];

/** Pastes `opts.facesPerFrame` faces at free places, then JPEG-compresses the frame. */
async function composite(
  scene: RgbImage,
  ignore: Box[],
  sources: SourceFace[],
  rng: Rng,
  opts: SmallFaceOptions,
): Promise<{ image: RgbImage; faces: Array<{ box: Box; source: string }> }> {
  const pixels = new Uint8Array(scene.pixels);
  const taken = ignore.map((b) => grow(b, 1.4));
  const faces: Array<{ box: Box; source: string }> = [];
  const [lo, hi] = opts.heightRange ?? [SIZE_BUCKETS[0]?.[0] ?? 12, SIZE_BUCKETS.at(-1)?.[1] ?? 48];
  const buckets = SIZE_BUCKETS.filter(([a, b]) => b > lo && a < hi);
  for (let i = 0; i < opts.facesPerFrame; i++) {
    const [a, b] = buckets[i % buckets.length] as readonly [number, number];
    const [bl, bh] = [Math.max(a, lo), Math.min(b, hi)];
    const height = bl * (bh / bl) ** rng.next(); // log-uniform in the bucket
    const src = sources[rng.int(sources.length)] as SourceFace;
    const s = height / (src.box[3] - src.box[1]);
    const w = (src.box[2] - src.box[0]) * s;
    for (let attempt = 0; attempt < 200; attempt++) {
      const x = 2 * w + rng.next() * (scene.width - 4 * w);
      const y = 2 * height + rng.next() * (scene.height - 4 * height);
      const box: Box = [x - w / 2, y - height / 2, x + w / 2, y + height / 2];
      const region = grow(box, 2);
      if (taken.some((t) => overlaps(t, region))) continue;
      taken.push(region);
      const placed = await paste(pixels, scene, src, box, 0.75 + 0.3 * rng.next());
      faces.push({ box: placed, source: src.name });
      break;
    }
  }
  const jpeg = await sharp(pixels, { raw: { width: scene.width, height: scene.height, channels: 3 } })
    .jpeg({ quality: 75 })
    .toBuffer();
  const { data } = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
  return {
    image: { width: scene.width, height: scene.height, pixels: new Uint8Array(data) },
    faces,
  };
}

/**
 * Scales the source face (with its head around it) so its box becomes `box` and blends it in
 * through a feathered ellipse (no hard seam for a detector to key on), with a brightness `gain`.
 */
export async function paste(
  pixels: Uint8Array,
  scene: RgbImage,
  src: SourceFace,
  box: Box,
  gain: number,
): Promise<Box> {
  const s = (box[3] - box[1]) / (src.box[3] - src.box[1]);
  const srcRegion = grow(src.box, 2);
  const sx = Math.max(0, Math.floor(srcRegion[0]));
  const sy = Math.max(0, Math.floor(srcRegion[1]));
  const sw = Math.min(src.img.width, Math.ceil(srcRegion[2])) - sx;
  const sh = Math.min(src.img.height, Math.ceil(srcRegion[3])) - sy;
  // the destination origin of the source pixel (sx, sy)
  const ox = box[0] - (src.box[0] - sx) * s;
  const oy = box[1] - (src.box[1] - sy) * s;
  const dx = Math.floor(ox);
  const dy = Math.floor(oy);
  const dw = Math.max(1, Math.round(sw * s));
  const dh = Math.max(1, Math.round(sh * s));
  const { data } = await sharp(src.img.pixels, {
    raw: { width: src.img.width, height: src.img.height, channels: 3 },
  })
    .extract({ left: sx, top: sy, width: sw, height: sh })
    .resize(dw, dh, { fit: 'fill', kernel: 'lanczos3' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  // the label: where the source box landed, at the scale the resize really used
  const kx = dw / sw;
  const ky = dh / sh;
  const placed = [
    dx + (src.box[0] - sx) * kx,
    dy + (src.box[1] - sy) * ky,
    dx + (src.box[2] - sx) * kx,
    dy + (src.box[3] - sy) * ky,
  ].map((v) => Math.round(v * 100) / 100) as Box;
  const cx = (box[0] + box[2]) / 2;
  const cy = (box[1] + box[3]) / 2 - 0.1 * (box[3] - box[1]);
  const rx = 0.75 * (box[2] - box[0]);
  const ry = 0.85 * (box[3] - box[1]);
  for (let y = 0; y < dh; y++) {
    const fy = dy + y;
    if (fy < 0 || fy >= scene.height) continue;
    for (let x = 0; x < dw; x++) {
      const fx = dx + x;
      if (fx < 0 || fx >= scene.width) continue;
      const r = Math.hypot((fx + 0.5 - cx) / rx, (fy + 0.5 - cy) / ry);
      const alpha = r <= 0.75 ? 1 : r >= 1 ? 0 : (1 - r) / 0.25;
      if (alpha <= 0) continue;
      const o = (fy * scene.width + fx) * 3;
      const q = (y * dw + x) * 3;
      for (let c = 0; c < 3; c++) {
        const v = Math.min(255, (data[q + c] as number) * gain);
        pixels[o + c] = Math.round((pixels[o + c] as number) * (1 - alpha) + v * alpha);
      }
    }
  }
  return placed;
}
