// The calibration set of issue #14 item 3: every shared labelled set plus the faces of face-api's
// demo photos, each image also degraded (grayscale, 24-64 px downscales, blur, JPEG q30, off-centre
// crop), embedded with the shipped recognize pipeline's model and crop on ONNX Runtime (the default
// engine). Vectors are cached under the OS temp dir, keyed by model, space, engine, condition and
// every file's path, size and mtime, so a rerun takes seconds.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { InferenceSchema } from '../src/config/schema.js';
import { DEFAULT_DETECTOR } from '../src/faces/detect/blazeface.js';
import { FaceEngine, largestFace } from '../src/faces/engine.js';
import { listLabeled } from '../src/faces/eval.js';
import { spaceVersion } from '../src/faces/thresholds.js';
import { engineSettings } from '../src/inference/onnx/settings.js';
import { loadPipeline, stageSettings } from '../src/pipeline/definition.js';
import type { Detection } from '../src/inference/contract.js';
import { decodeImage } from '../src/util/image.js';
import { packageRoot } from '../src/util/packages.js';
import type { RgbImage } from '../src/util/rgb.js';

type Box = [number, number, number, number];

/** How a query image is degraded before it is embedded (the enrolment photo never is). */
export const CONDITIONS = [
  'clean',
  'gray',
  'px64',
  'px48',
  'px32',
  'px24',
  'blur',
  'jpeg30',
  'offcentre',
] as const;
export type Condition = (typeof CONDITIONS)[number];

export const CONDITION_NOTES: Record<Condition, string> = {
  clean: 'as stored',
  gray: 'grayscale',
  px64: 'face downscaled to 64 px wide and back',
  px48: 'face downscaled to 48 px wide and back',
  px32: 'face downscaled to 32 px wide and back',
  px24: 'face downscaled to 24 px wide and back',
  blur: 'gaussian blur, sigma = face width / 40',
  jpeg30: 'JPEG quality 30',
  offcentre: 'crop box shifted 15% of the face right and 10% down',
};

/** One embedded face: `identity` is "set/person"; demo faces are "demo/sampleN#k" (strangers only). */
export interface Face {
  set: string;
  identity: string;
  file: string;
  /** Index of the image within its identity (0: the enrolment photo). */
  index: number;
  detected: boolean;
  /** Face width in the image (px), from the detector (or the whole image). */
  facePx: number;
  embedding: Record<Condition, Float32Array>;
}

export const SHARED_SETS = ['bbt_crops', 'dlib_johns_crops', 'facerec_photos'] as const;
export const DEMO_SET = 'demo_photos';

export function sharedDir(): string {
  return join(process.cwd(), '..', 'shared', 'data', 'faces');
}

/** The recognize pipeline's embedding settings (what the shipped threshold is for). */
export function shippedSpace(): { model: string; align: boolean; context: number; space: string } {
  const rec = stageSettings(loadPipeline('recognize')).recognize;
  if (!rec) throw new Error('pipelines/recognize.yaml has no recognize stage');
  return {
    model: rec.model,
    align: rec.align,
    context: rec.context,
    space: spaceVersion(rec.align, rec.context),
  };
}

async function rgb(input: sharp.Sharp): Promise<RgbImage> {
  const { data, info } = await input.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`calibration: expected 3 channels, got ${info.channels}`);
  return {
    width: info.width,
    height: info.height,
    pixels: new Uint8Array(data.buffer, data.byteOffset, data.length),
  };
}

const raw = (img: RgbImage) =>
  sharp(Buffer.from(img.pixels.buffer, img.pixels.byteOffset, img.pixels.byteLength), {
    raw: { width: img.width, height: img.height, channels: 3 },
  });

/** Luma (BT.601) in all three channels: a grayscale camera as the colour model sees it. */
function grayscale(img: RgbImage): RgbImage {
  const p = img.pixels;
  const q = new Uint8Array(p.length);
  for (let i = 0; i < p.length; i += 3) {
    const y = Math.round(
      0.299 * (p[i] as number) + 0.587 * (p[i + 1] as number) + 0.114 * (p[i + 2] as number),
    );
    q[i] = y;
    q[i + 1] = y;
    q[i + 2] = y;
  }
  return { width: img.width, height: img.height, pixels: q };
}

/** The image and crop box a query is embedded from under a condition. */
export async function degrade(img: RgbImage, box: Box, c: Condition): Promise<{ img: RgbImage; box: Box }> {
  const faceW = Math.max(1, box[2] - box[0]);
  switch (c) {
    case 'clean':
      return { img, box };
    case 'gray':
      return { img: grayscale(img), box };
    case 'px64':
    case 'px48':
    case 'px32':
    case 'px24': {
      const f = Number(c.slice(2)) / faceW;
      if (f >= 1) return { img, box }; // already that small
      const w = Math.max(2, Math.round(img.width * f));
      const h = Math.max(2, Math.round(img.height * f));
      const small = await raw(img).resize(w, h, { kernel: 'lanczos3' }).raw().toBuffer();
      const up = sharp(small, { raw: { width: w, height: h, channels: 3 } }).resize(img.width, img.height, {
        kernel: 'cubic',
        fit: 'fill',
      });
      return { img: await rgb(up), box };
    }
    case 'blur':
      return { img: await rgb(raw(img).blur(Math.max(0.5, faceW / 40))), box };
    case 'jpeg30':
      return { img: await rgb(sharp(await raw(img).jpeg({ quality: 30 }).toBuffer())), box };
    case 'offcentre': {
      const dx = 0.15 * faceW;
      const dy = 0.1 * (box[3] - box[1]);
      return { img, box: [box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy] };
    }
  }
}

interface Source {
  set: string;
  identity: string;
  file: string;
  index: number;
  /** Demo photos: the k-th detected face (largest first); labelled sets: the largest face. */
  face?: number;
}

/** The labelled sets' images, and one source per face of each demo photo (found at embed time). */
export function sources(): { labelled: Source[]; demoPhotos: string[] } {
  const labelled: Source[] = [];
  for (const set of SHARED_SETS) {
    const counts = new Map<string, number>();
    for (const f of listLabeled(join(sharedDir(), set))) {
      const index = counts.get(f.identity) ?? 0;
      counts.set(f.identity, index + 1);
      labelled.push({ set, identity: `${set}/${f.identity}`, file: f.file, index });
    }
  }
  const demo = join(packageRoot('@vladmandic/face-api'), 'demo');
  const demoPhotos = [1, 2, 3, 4, 5, 6].map((n) => join(demo, `sample${n}.jpg`));
  return { labelled, demoPhotos };
}

const b64 = (v: Float32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
const unb64 = (s: string) => {
  const b = Buffer.from(s, 'base64');
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};

export const CACHE_DIR = join(tmpdir(), 'vigil-calibration');

function cacheFile(space: ReturnType<typeof shippedSpace>, engine: string, files: string[]): string {
  const key = createHash('sha256')
    .update(
      JSON.stringify({
        v: 2,
        model: space.model,
        space: space.space,
        engine,
        detector: DEFAULT_DETECTOR,
        conditions: CONDITIONS,
        notes: CONDITION_NOTES,
        files: files.map((f) => [f, statSync(f).size, Math.round(statSync(f).mtimeMs)]),
      }),
    )
    .digest('hex')
    .slice(0, 20);
  return join(CACHE_DIR, `${space.model}-${space.space}-${engine}-${key}.json`);
}

async function embedAll(
  engine: FaceEngine,
  img: RgbImage,
  det: Pick<Detection, 'box' | 'landmarks'>,
): Promise<Record<Condition, Float32Array>> {
  const out = {} as Record<Condition, Float32Array>;
  for (const c of CONDITIONS) {
    const d = await degrade(img, det.box, c);
    const [e] = await engine.embedFaces(d.img, [{ box: d.box, landmarks: det.landmarks }], 0);
    if (!e) throw new Error(`calibration: no embedding for condition ${c}`);
    out[c] = e.embedding;
  }
  return out;
}

/** Every face BlazeFace finds in a demo photo, largest first: each its own stranger. */
async function demoFaces(engine: FaceEngine, photo: string, name: string): Promise<Face[]> {
  const img = await decodeImage(photo);
  const dets = (await engine.detect(img)).sort((a, b) => b.box[2] - b.box[0] - (a.box[2] - a.box[0]));
  const out: Face[] = [];
  for (const [k, det] of dets.entries()) {
    const embedding = await embedAll(engine, img, det);
    const identity = `${DEMO_SET}/${name}#${k}`;
    out.push({
      set: DEMO_SET,
      identity,
      file: photo,
      index: 0,
      detected: true,
      facePx: det.box[2] - det.box[0],
      embedding,
    });
  }
  return out;
}

type Stored = Omit<Face, 'embedding'> & { e: Record<Condition, string> };

/**
 * Every face of the calibration set under every condition. `progress` gets a line every few
 * seconds while embedding; a cached run reads one JSON file.
 */
export async function calibrationFaces(progress: (msg: string) => void): Promise<{
  faces: Face[];
  space: ReturnType<typeof shippedSpace>;
  engine: string;
  cache: string;
  cached: boolean;
}> {
  for (const set of SHARED_SETS)
    if (!existsSync(join(sharedDir(), set)))
      throw new Error(`calibration: ${join(sharedDir(), set)} not found (the shared data sets)`);
  const space = shippedSpace();
  const src = sources();
  const inference = InferenceSchema.parse({});
  const engineName = inference.engine;
  const file = cacheFile(space, engineName, [...src.labelled.map((s) => s.file), ...src.demoPhotos]);
  const decode = (rows: Stored[]): Face[] =>
    rows.map(({ e, ...f }) => ({
      ...f,
      embedding: Object.fromEntries(CONDITIONS.map((c) => [c, unb64(e[c])])) as Record<
        Condition,
        Float32Array
      >,
    }));
  if (existsSync(file)) {
    const faces = decode(JSON.parse(readFileSync(file, 'utf8')) as Stored[]);
    progress(`calibration set: ${faces.length} faces x ${CONDITIONS.length} conditions from cache ${file}`);
    return { faces, space, engine: engineName, cache: file, cached: true };
  }
  mkdirSync(CACHE_DIR, { recursive: true });
  const engine = new FaceEngine({
    backend: 'auto',
    embedModel: space.model,
    align: space.align,
    context: space.context,
    engines: engineSettings(inference, join(CACHE_DIR, 'data')),
  });
  progress(`calibration set: starting ${space.model} (${space.space}, engine ${engineName})`);
  await engine.start();
  const faces: Face[] = [];
  try {
    let last = 0;
    const total = src.labelled.length + src.demoPhotos.length;
    const tick = (done: number) => {
      if (done === total || performance.now() - last > 3000) {
        last = performance.now();
        progress(`calibration set: ${done}/${total} images embedded (${CONDITIONS.length} conditions each)`);
      }
    };
    for (const [i, s] of src.labelled.entries()) {
      const img = await decodeImage(s.file);
      const det = largestFace(await engine.detect(img));
      const d = det ?? { box: [0, 0, img.width, img.height] as Box, landmarks: [] };
      const embedding = await embedAll(engine, img, d);
      faces.push({ ...s, detected: Boolean(det), facePx: d.box[2] - d.box[0], embedding });
      tick(i + 1);
    }
    for (const [i, photo] of src.demoPhotos.entries()) {
      faces.push(...(await demoFaces(engine, photo, `sample${i + 1}`)));
      tick(src.labelled.length + i + 1);
    }
  } finally {
    await engine.close();
  }
  const stored: Stored[] = faces.map(({ embedding, ...f }) => ({
    ...f,
    e: Object.fromEntries(CONDITIONS.map((c) => [c, b64(embedding[c])])) as Record<Condition, string>,
  }));
  writeFileSync(`${file}.tmp`, JSON.stringify(stored));
  renameSync(`${file}.tmp`, file);
  progress(`calibration set: ${faces.length} faces embedded, cached in ${file}`);
  return { faces, space, engine: engineName, cache: file, cached: false };
}
