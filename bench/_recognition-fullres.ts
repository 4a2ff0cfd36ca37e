// Detect small, embed big (issue #14 item 2): how much a face crop from the full-resolution frame
// gains over one from the 640x360 detection frame, for small faces. Each probe photo (other photos of
// enrolled people: facerec_photos, dlib_johns_crops; the enrollment photo itself for hamilton_enroll,
// which has one per person) is composited small into a grey 1920x1080 and 1280x720 scene, so that
// its face is 16/24/32/48 px tall in the 640x360 detection frame; the face is detected there (the
// recognize pipeline's detector), then embedded twice with the same box: cut from the detection
// frame (embedFrom: detect) and from the scene (embedFrom: full, the box scaled up). Reported per
// scene and size: cosine similarity to the person's enrolled photo, how many reach the shipped
// threshold (models/thresholds.yaml), and how many match another enrolled person above it.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { FaceEngine, largestFace } from '../src/faces/engine.js';
import { dot } from '../src/faces/metrics.js';
import { readThreshold, spaceVersion } from '../src/faces/thresholds.js';
import type { Detection } from '../src/inference/contract.js';
import { loadPipeline, stageSettings } from '../src/pipeline/definition.js';
import type { RecognizeStageConfig } from '../src/pipeline/stages/recognize.js';
import type { RgbImage } from '../src/util/rgb.js';

type Box = Detection['box'];
const DETECT = { width: 640, height: 360 };
const SCENES = [
  { width: 1920, height: 1080 },
  { width: 1280, height: 720 },
];
const FACE_PX = [16, 24, 32, 48];
const GREY = { r: 110, g: 112, b: 116 };

interface Photo {
  set: string;
  identity: string;
  file: string;
}

const IMAGE = /\.(jpe?g|png|webp)$/i;
function photos(dir: string, set: string): Photo[] {
  return readdirSync(dir)
    .sort()
    .flatMap((id) =>
      readdirSync(join(dir, id))
        .filter((f) => IMAGE.test(f))
        .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
        .map((f) => ({ set, identity: `${set}/${id}`, file: join(dir, id, f) })),
    );
}

async function rgb(s: sharp.Sharp): Promise<RgbImage> {
  const { data, info } = await s.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return {
    width: info.width,
    height: info.height,
    pixels: new Uint8Array(data.buffer, data.byteOffset, data.length),
  };
}

/** The photo with a grey border (tight crops are found by the detector), and its largest face. */
async function padded(engine: FaceEngine, file: string) {
  const meta = await sharp(file).rotate().metadata();
  const pad = Math.round(0.5 * Math.max(meta.width ?? 0, meta.height ?? 0));
  const png = await sharp(file)
    .rotate()
    .extend({ top: pad, bottom: pad, left: pad, right: pad, background: GREY })
    .png()
    .toBuffer();
  const img = await rgb(sharp(png));
  return { png, img, face: largestFace(await engine.detect(img)) };
}

const iou = (a: Box, b: Box) => {
  const w = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const h = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const i = w * h;
  return i / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - i);
};

/**
 * The photo scaled so its face is `facePx` tall in the detection frame, in a scene of `scene` size;
 * the scene (the full-resolution picture) and the detection frame (the scene downscaled whole).
 */
async function composite(
  p: Awaited<ReturnType<typeof padded>>,
  face: Box,
  scene: typeof DETECT,
  facePx: number,
) {
  const k = scene.width / DETECT.width;
  const f = (facePx * k) / (face[3] - face[1]);
  // the head and shoulders around the face (4 face heights), so it always fits the scene
  const side = 4 * (face[3] - face[1]);
  const rx = Math.max(0, Math.round((face[0] + face[2]) / 2 - side / 2));
  const ry = Math.max(0, Math.round((face[1] + face[3]) / 2 - side / 2));
  const region = {
    left: rx,
    top: ry,
    width: Math.min(p.img.width - rx, Math.round(side)),
    height: Math.min(p.img.height - ry, Math.round(side)),
  };
  const w = Math.max(1, Math.round(region.width * f));
  const small = await sharp(p.png).extract(region).resize({ width: w }).png().toBuffer();
  const s = w / region.width;
  // the face's centre at 45% across and 40% down the scene
  const left = Math.round(0.45 * scene.width - ((face[0] + face[2]) / 2 - rx) * s);
  const top = Math.round(0.4 * scene.height - ((face[1] + face[3]) / 2 - ry) * s);
  const png = await sharp({ create: { ...scene, channels: 3, background: GREY } })
    .composite([{ input: small, left, top }])
    .png()
    .toBuffer();
  const at = (x: number, y: number) => [((x - rx) * s + left) / k, ((y - ry) * s + top) / k];
  const truth = [...at(face[0], face[1]), ...at(face[2], face[3])] as Box;
  return {
    full: await rgb(sharp(png)),
    detect: await rgb(sharp(png).resize(DETECT.width, DETECT.height)),
    truth,
  };
}

interface Look {
  set: string;
  identity: string;
  scene: string;
  facePx: number;
  detected: boolean;
  simDetect?: number;
  simFull?: number;
  /** Best similarity to another enrolled person. */
  otherDetect?: number;
  otherFull?: number;
}

const mean = (v: number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : Number.NaN);
const f3 = (v: number) => (Number.isNaN(v) ? '-' : v.toFixed(3));

function summarise(looks: Look[], threshold: number) {
  const rows: Array<Record<string, string | number>> = [];
  for (const sc of SCENES)
    for (const px of FACE_PX) {
      const scene = `${sc.width}x${sc.height}`;
      const all = looks.filter((l) => l.scene === scene && l.facePx === px);
      const d = all.filter((l) => l.detected);
      const sd = d.map((l) => l.simDetect as number);
      const sf = d.map((l) => l.simFull as number);
      rows.push({
        scene,
        'face px (detect frame)': px,
        detected: `${d.length}/${all.length}`,
        'sim detect crop': f3(mean(sd)),
        'sim full crop': f3(mean(sf)),
        'gain (mean of pairs)': f3(mean(sf.map((v, i) => v - (sd[i] as number)))),
        [`>= ${threshold} detect`]: sd.filter((v) => v >= threshold).length,
        [`>= ${threshold} full`]: sf.filter((v) => v >= threshold).length,
        'false match detect': d.filter((l) => (l.otherDetect as number) >= threshold).length,
        'false match full': d.filter((l) => (l.otherFull as number) >= threshold).length,
      });
    }
  return rows;
}

function markdown(rows: Array<Record<string, string | number>>): string {
  const cols = Object.keys(rows[0] ?? {});
  const line = (c: Array<string | number>) => `| ${c.join(' | ')} |`;
  return [
    line(cols),
    line(cols.map(() => '---')),
    ...rows.map((r) => line(cols.map((c) => r[c] ?? ''))),
  ].join('\n');
}

export async function runFullRes(opts: {
  progress: (msg: string) => void;
  /** Probe photos per identity at most (dlib_johns_crops has 11 each). */
  perIdentity?: number;
}): Promise<{ title: string; table: string; json: unknown }> {
  const data = join(process.cwd(), '..', 'shared', 'data');
  const sets = {
    facerec_photos: join(data, 'faces', 'facerec_photos'),
    dlib_johns_crops: join(data, 'faces', 'dlib_johns_crops'),
    hamilton_enroll: join(data, 'video', 'hamilton_enroll'),
  };
  for (const dir of Object.values(sets)) if (!existsSync(dir)) throw new Error(`fullres: ${dir} not found`);
  const def = stageSettings(loadPipeline('recognize'));
  const rec = def.recognize as RecognizeStageConfig;
  const space = spaceVersion(rec.align, rec.context);
  const threshold = rec.threshold ?? readThreshold(rec.model, space).similarity;
  const engine = new FaceEngine({
    backend: 'auto',
    embedModel: rec.model,
    align: rec.align,
    context: rec.context,
    detector: { ...def.detect },
  });
  await engine.start();
  try {
    return await measure(engine, sets, threshold, opts.perIdentity ?? 4, opts.progress, {
      model: rec.model,
      space,
    });
  } finally {
    await engine.close();
  }
}

async function measure(
  engine: FaceEngine,
  sets: Record<string, string>,
  threshold: number,
  perIdentity: number,
  progress: (msg: string) => void,
  space: { model: string; space: string },
) {
  const enrolled = new Map<string, Float32Array>();
  const probes: Photo[] = [];
  for (const [set, dir] of Object.entries(sets)) {
    const byId = new Map<string, Photo[]>();
    for (const p of photos(dir, set)) byId.set(p.identity, [...(byId.get(p.identity) ?? []), p]);
    for (const [id, list] of byId) {
      const first = list[0] as Photo;
      const face = largestFace(await engine.analyze((await padded(engine, first.file)).img));
      if (!face) continue;
      enrolled.set(id, face.embedding);
      // one photo per person (hamilton_enroll): the enrollment photo itself, only smaller
      probes.push(...(list.length > 1 ? list.slice(1, 1 + perIdentity) : [first]));
    }
  }
  progress(`fullres: ${enrolled.size} people enrolled, ${probes.length} probe photos`);
  const looks: Look[] = [];
  for (const [i, p] of probes.entries()) {
    const pad = await padded(engine, p.file);
    const mine = enrolled.get(p.identity);
    if (!pad.face || !mine) continue;
    for (const sc of SCENES)
      for (const px of FACE_PX) looks.push(await look(engine, p, pad, sc, px, mine, enrolled));
    if (i % 5 === 4) progress(`fullres: ${i + 1}/${probes.length} probes`);
  }
  const rows = summarise(looks, threshold);
  return {
    title: 'Detect small, embed big: face crop from the 640x360 detection frame vs the full frame',
    table: markdown(rows),
    json: { ...space, threshold, detect: DETECT, scenes: SCENES, facePx: FACE_PX, rows, looks },
  };
}

async function look(
  engine: FaceEngine,
  p: Photo,
  pad: Awaited<ReturnType<typeof padded>>,
  sc: typeof DETECT,
  px: number,
  mine: Float32Array,
  enrolled: Map<string, Float32Array>,
): Promise<Look> {
  const base = { set: p.set, identity: p.identity, scene: `${sc.width}x${sc.height}`, facePx: px };
  const c = await composite(pad, (pad.face as Detection).box, sc, px);
  const det = (await engine.detect(c.detect)).find((d) => iou(d.box, c.truth) > 0.3);
  if (!det) return { ...base, detected: false };
  const k = sc.width / DETECT.width;
  const up = {
    box: det.box.map((v) => v * k) as Box,
    landmarks: det.landmarks.map(([x, y]) => [x * k, y * k]),
  };
  const [a] = await engine.embedFaces(c.detect, [det], 0);
  const [b] = await engine.embedFaces(c.full, [up as Pick<Detection, 'box' | 'landmarks'>], 0);
  if (!a || !b) return { ...base, detected: false };
  let otherDetect = -1;
  let otherFull = -1;
  // the same person in two sets (obama, alex_lacamoire) is not another person
  for (const [id, e] of enrolled)
    if (id.split('/')[1] !== p.identity.split('/')[1]) {
      otherDetect = Math.max(otherDetect, dot(a.embedding, e));
      otherFull = Math.max(otherFull, dot(b.embedding, e));
    }
  return {
    ...base,
    detected: true,
    simDetect: dot(a.embedding, mine),
    simFull: dot(b.embedding, mine),
    otherDetect,
    otherFull,
  };
}
