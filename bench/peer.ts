// Vigil vs @vladmandic/face-api, same machine, same inputs, one run (issue #8, item 1).
// Vigil: FaceEngine (BlazeFace detect + the default recognize pipeline's embedding: faceres box crop, gallery match in the
// worker), one inference worker, tfjs wasm, 1 thread. face-api: SSD-MobileNet v1 + 68-point landmarks
// + 128-d descriptor, tfjs wasm, 1 thread, main thread. Sides run one after the other, never together.
// npm run bench -- peer [--fps 2] [--reps 2]
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Detection } from '../src/inference/contract.js';
import { FaceEngine, largestFace } from '../src/faces/engine.js';
import { embedDim, setGallery } from '../src/faces/tasks/index.js';
import { decodeImage } from '../src/util/image.js';
import type { RgbImage } from '../src/util/rgb.js';
import { readThreshold, spaceVersion } from '../src/faces/thresholds.js';
import { loadPipeline, stageSettings } from '../src/pipeline/definition.js';
import { FaceTracker } from '../src/faces/track.js';
import { decodeVideoFrames } from '../src/sources/video-frames.js';
import { type FaceApiResult, loadFaceApiModels, wasmTf } from '../test/helpers/faceapi.js';
import { machine, printTable, progress, writeResult } from './_util.js';

const { values } = parseArgs({
  options: { fps: { type: 'string', default: '2' }, reps: { type: 'string', default: '2' } },
});
const fps = Number(values.fps);
const reps = Math.max(1, Number(values.reps));

const data = join(process.cwd(), '..', 'shared', 'data');
if (!existsSync(data)) {
  console.error(`peer bench needs ${data} (the labelled photos and the video); it is absent`);
  process.exit(2);
}

// ---- inputs ----------------------------------------------------------------------------------
const W = 640;
const H = 360;
const frames = decodeVideoFrames(join(data, 'video', 'short_hamilton_clip.mp4'), {
  fps,
  width: W,
  height: H,
});
const frameMs = 1000 / fps;

const photoDir = join(data, 'faces', 'facerec_photos');
const people = readdirSync(photoDir).sort();
const photos: Array<{ person: string; file: string; img: RgbImage }> = [];
for (const person of people)
  for (const file of readdirSync(join(photoDir, person))
    .filter((f) => /\.(jpe?g|png|webp)$/i.test(f))
    .sort())
    photos.push({ person, file, img: await decodeImage(join(photoDir, person, file)) });
progress(
  `${frames.length} video frames (${fps} fps, ${W}x${H}), ${photos.length} photos of ${people.length} people`,
);

// ---- shared measurement helpers ------------------------------------------------------------------
type Box = Detection['box'];

interface SideTiming {
  /** ms per frame: every face of every frame detected + recognised. */
  fullMs: number;
  /** ms per frame: detection alone. */
  detectMs: number;
  /** ms per face of recognition (everything after detection). */
  perFaceMs: number;
  facesPerFrame: number;
  /** New tracks per frame (FaceTracker on this side's detections). */
  newTracksPerFrame: number;
}

/** Times `full` (detect + recognise every face) and `detect` over all frames, `reps` passes each after a warm-up. */
async function timeVideo(
  full: (f: RgbImage) => Promise<number>,
  detect: (f: RgbImage) => Promise<Box[]>,
  label: string,
): Promise<SideTiming> {
  // warm-up (first calls compile kernels / allocate)
  for (const f of frames.slice(0, 2)) {
    await full(f);
    await detect(f);
  }
  let faces = 0;
  let fullT = 0;
  let detT = 0;
  let newTracks = 0;
  for (let r = 0; r < reps; r++) {
    const tracker = new FaceTracker();
    for (const [i, f] of frames.entries()) {
      let t0 = performance.now();
      faces += await full(f);
      fullT += performance.now() - t0;
      t0 = performance.now();
      const boxes = await detect(f);
      detT += performance.now() - t0;
      const { assigned } = tracker.update(
        boxes.map((box) => ({ box, score: 1, landmarks: [] })),
        i * frameMs,
      );
      newTracks += assigned.filter((t) => t.hits === 1).length;
    }
    progress(`${label}: video pass ${r + 1}/${reps} done`);
  }
  const n = frames.length * reps;
  return {
    fullMs: fullT / n,
    detectMs: detT / n,
    perFaceMs: faces ? (fullT - detT) / faces : 0,
    facesPerFrame: faces / n,
    newTracksPerFrame: newTracks / n,
  };
}

interface Accuracy {
  rank1: number;
  queries: number;
  unknownRejection: number;
  /** Queries of enrolled people matched to the right person at the threshold (open set). */
  acceptedCorrect: number;
  noFace: number;
}

/**
 * One-shot: the first photo of each person enrolled, the others queried. `score` is higher = more
 * alike (cosine for Vigil, minus the Euclidean distance for face-api); `accept` applies the side's threshold.
 */
function accuracy(
  vecs: Array<Float32Array | undefined>,
  score: (a: Float32Array, b: Float32Array) => number,
  accept: (s: number) => boolean,
): Accuracy {
  const enrolled = new Map<string, Float32Array>();
  const queries: Array<{ person: string; v: Float32Array | undefined }> = [];
  photos.forEach((p, i) => {
    if (!enrolled.has(p.person) && !queries.some((q) => q.person === p.person) && vecs[i])
      enrolled.set(p.person, vecs[i] as Float32Array);
    else queries.push({ person: p.person, v: vecs[i] });
  });
  const best = (v: Float32Array, leaveOut?: string) => {
    let who = '';
    let s = Number.NEGATIVE_INFINITY;
    for (const [p, g] of enrolled) {
      if (p === leaveOut) continue;
      const x = score(v, g);
      if (x > s) [who, s] = [p, x];
    }
    return { who, s };
  };
  let right = 0;
  let acc = 0;
  let rejected = 0;
  let noFace = 0;
  for (const q of queries) {
    if (!q.v) {
      noFace++;
      rejected++; // no face found: nobody is named, which is a rejection (and a miss for rank-1)
      continue;
    }
    const b = best(q.v);
    if (b.who === q.person) {
      right++;
      if (accept(b.s)) acc++;
    }
    if (!accept(best(q.v, q.person).s)) rejected++;
  }
  const n = queries.length || 1;
  return {
    rank1: right / n,
    queries: queries.length,
    unknownRejection: rejected / n,
    acceptedCorrect: acc / n,
    noFace,
  };
}

const dot = (a: Float32Array, b: Float32Array) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) * (b[i] as number);
  return s;
};
const unit = (a: Float32Array) => {
  const n = Math.sqrt(dot(a, a)) || 1;
  return a.map((x) => x / n);
};
const l2 = (a: Float32Array, b: Float32Array) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += ((a[i] as number) - (b[i] as number)) ** 2;
  return Math.sqrt(s);
};

// ---- Vigil ---------------------------------------------------------------------------------------
// the default recognize pipeline's model, crop and calibrated threshold
const rec = stageSettings(loadPipeline('recognize')).recognize;
if (!rec) throw new Error('pipelines/recognize.yaml has no recognize stage');
const vigilThreshold = readThreshold(rec.model, spaceVersion(rec.align, rec.context)).similarity;
/** Vigil's worker path on one engine: tfjs-wasm (1 thread), or ONNX Runtime (1 intra-op thread). */
async function vigilSide(kind: 'tfjs' | 'onnx'): Promise<{ t: SideTiming; acc: Accuracy }> {
  progress(
    `vigil (${kind}): starting the inference worker (${rec.model}, ${spaceVersion(rec.align, rec.context)}, 1 thread)`,
  );
  const engine = new FaceEngine({
    backend: 'wasm',
    workers: 1,
    embedModel: rec.model,
    align: rec.align,
    context: rec.context,
    engines:
      kind === 'onnx'
        ? {
            engine: 'onnx',
            models: {},
            onnx: {
              intraOpThreads: 1,
              executionProviders: ['cpu'],
              cacheDir: join(tmpdir(), 'vigil-peer-onnx'),
            },
          }
        : undefined,
  });
  await engine.start();
  const vecs: Array<Float32Array | undefined> = [];
  for (const p of photos) {
    const f = largestFace(await engine.analyze(p.img));
    vecs.push(f ? unit(f.embedding) : undefined);
  }
  const acc = accuracy(vecs, dot, (s) => s >= vigilThreshold);
  // a gallery of the enrolled people, so the match step runs in the worker as in the service
  const dim = embedDim(engine.host);
  const seen = new Set<string>();
  const rows: Float32Array[] = [];
  photos.forEach((p, i) => {
    if (!seen.has(p.person) && vecs[i]) {
      seen.add(p.person);
      rows.push(vecs[i] as Float32Array);
    }
  });
  const g = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => {
    g.set(r, i * dim);
  });
  setGallery(engine.host, { version: 1, data: g, rows: rows.length, dim });
  progress(`vigil (${kind}): photos rank-1 ${acc.rank1.toFixed(2)}; timing the video`);
  const t = await timeVideo(
    async (f) => (await engine.analyze(f)).length,
    async (f) => (await engine.detect(f)).map((d) => d.box),
    `vigil ${kind}`,
  );
  await engine.close();
  return { t, acc };
}
const vigilTf = await vigilSide('tfjs');
const vigilOrt = await vigilSide('onnx');
const vigilT = vigilOrt.t;
const vigilAcc = vigilOrt.acc;

// ---- face-api ------------------------------------------------------------------------------------
const FACEAPI_DISTANCE = 0.6;
progress('face-api: loading (tfjs wasm, 1 thread; SSD-MobileNet v1 + landmarks68 + recognition)');
const tf = await wasmTf(1);
const faceapi = await loadFaceApiModels();
const ssd = new faceapi.SsdMobilenetv1Options({ minConfidence: 0.5 });
const withTensor = async <T>(img: RgbImage, fn: (t: ReturnType<typeof tf.tensor3d>) => Promise<T>) => {
  const t = tf.tensor3d(img.pixels, [img.height, img.width, 3], 'int32');
  try {
    return await fn(t);
  } finally {
    t.dispose();
  }
};
const faFull = (img: RgbImage) =>
  withTensor(img, (t) => faceapi.detectAllFaces(t, ssd).withFaceLandmarks().withFaceDescriptors());
const faDetect = (img: RgbImage) =>
  withTensor(
    img,
    async (t) =>
      (await faceapi.detectAllFaces(t, ssd)) as Array<{
        box: { x: number; y: number; width: number; height: number };
      }>,
  );
const faVecs: Array<Float32Array | undefined> = [];
for (const p of photos) {
  const rs = await faFull(p.img);
  const f = largestFace(
    rs.map((r: FaceApiResult) => {
      const b = r.detection.box;
      return { box: [b.x, b.y, b.x + b.width, b.y + b.height] as Box, r };
    }),
  );
  faVecs.push(f ? Float32Array.from(f.r.descriptor) : undefined);
}
const faAcc = accuracy(
  faVecs,
  (a, b) => -l2(a, b),
  (s) => -s < FACEAPI_DISTANCE,
);
progress(`face-api: photos rank-1 ${faAcc.rank1.toFixed(2)}; timing the video`);
const tensorsBefore = tf.memory().numTensors;
const faT = await timeVideo(
  async (f) => (await faFull(f)).length,
  async (f) =>
    (await faDetect(f)).map((d) => [d.box.x, d.box.y, d.box.x + d.box.width, d.box.y + d.box.height] as Box),
  'face-api',
);
if (tf.memory().numTensors > tensorsBefore)
  progress(`face-api: ${tf.memory().numTensors - tensorsBefore} tensors leaked during the video passes`);

// ---- report --------------------------------------------------------------------------------------
const amortised = (t: SideTiming) => t.detectMs + t.perFaceMs * t.newTracksPerFrame;
const row = (name: string, t: SideTiming, a: Accuracy, threshold: string) => ({
  side: name,
  'ms/frame (all faces)': t.fullMs,
  'ms/frame (per track)': amortised(t),
  'detect ms/frame': t.detectMs,
  'recog ms/face': t.perFaceMs,
  'faces/frame': t.facesPerFrame.toFixed(2),
  'new tracks/frame': t.newTracksPerFrame.toFixed(2),
  'faces/s': t.fullMs ? (t.facesPerFrame * 1000) / t.fullMs : 0,
  'rank-1 %': a.rank1 * 100,
  'unknown rejected %': a.unknownRejection * 100,
  'accepted+right %': a.acceptedCorrect * 100,
  threshold,
});
const rows = [
  row('vigil tfjs-wasm (blazeface+faceres)', vigilTf.t, vigilTf.acc, `cos >= ${vigilThreshold}`),
  row('vigil onnx (blazeface+faceres)', vigilT, vigilAcc, `cos >= ${vigilThreshold}`),
  row('face-api (ssd+lm68+resnet)', faT, faAcc, `L2 < ${FACEAPI_DISTANCE}`),
];
const speedupAll = faT.fullMs / vigilT.fullMs;
const speedupTrack = amortised(faT) / amortised(vigilT);
const accOk = vigilAcc.rank1 >= faAcc.rank1 && vigilAcc.unknownRejection >= faAcc.unknownRejection;
console.log(
  `\npeer: Vigil (tfjs wasm, and ONNX Runtime) vs face-api (tfjs wasm), 1 thread each, run one after the other; video ${frames.length} frames x ${reps} passes; photos ${photos.length} (${vigilAcc.queries} queries, one-shot)\n`,
);
printTable(rows);
console.log(
  `\nspeed-up per frame: ${speedupAll.toFixed(1)}x (every face of every frame), ${speedupTrack.toFixed(1)}x (detection per frame + recognition once per new track)`,
);
console.log(
  `issue #8 target (>= 10x per frame at equal or better accuracy): ${speedupAll >= 10 && accOk ? 'met' : 'NOT met'} (all faces), ${speedupTrack >= 10 && accOk ? 'met' : 'NOT met'} (per track); accuracy ${accOk ? 'equal or better' : 'worse'} on rank-1 and unknown rejection`,
);
if (vigilAcc.noFace || faAcc.noFace)
  console.log(`queries with no face found: vigil ${vigilAcc.noFace}, face-api ${faAcc.noFace}`);
const file = writeResult('peer', {
  bench: 'peer',
  date: new Date().toISOString(),
  machine: machine(),
  params: { fps, reps, frames: frames.length, photos: photos.length },
  method: {
    video: `${join('shared', 'data', 'video', 'short_hamilton_clip.mp4')} at ${fps} fps, ${W}x${H}; each pass times the full path and detection alone on every frame`,
    perTrack:
      'detect ms/frame + recog ms/face x new tracks/frame; recog ms/face = (full - detect-only time) / faces; new tracks counted with FaceTracker (DEFAULT_TRACKER) on each side’s own detections; periodic refreshes not counted',
    photos:
      'facerec_photos, first image per identity enrolled (largest face), the others queried; rank-1 closed set; unknown rejection: each identity left out of the gallery in turn, share of its queries whose best match misses the threshold',
  },
  vigil: { ...vigilT, perTrackMs: amortised(vigilT), accuracy: vigilAcc, threshold: vigilThreshold },
  faceapi: { ...faT, perTrackMs: amortised(faT), accuracy: faAcc, threshold: FACEAPI_DISTANCE },
  speedup: { allFaces: speedupAll, perTrack: speedupTrack },
  accuracyEqualOrBetter: accOk,
  targetMet: { allFaces: speedupAll >= 10 && accOk, perTrack: speedupTrack >= 10 && accOk },
  rows,
});
console.log(`\nwritten: ${file}`);
