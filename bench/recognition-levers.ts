// Levers for small, turned faces (issue #3: Obama in the Hamilton clip), per crop context:
//   plain           the default: one embedding per face
//   flip TTA        embedding = L2-normalised mean of the crop's and its mirror's (2x embed work)
//   gallery mirror  enrolled photos also stored mirrored (matching takes the best row)
//   gallery lowres  enrolled photos also stored downscaled to a 64 px and a 48 px face
// measured on the labelled sets (open-set threshold at stranger FAR <= 1%, rank-1, TAR@FAR 1%) and on
// the clip (every face of the frames of the audience shot, 7.87 s to the end at 15 fps: the face most
// like obama's enrollment photo is his, the others are strangers). Writes bench/results/recognition-levers.json.
// npm run bench -- recognition-levers [--contexts 1.3,1.6] [--model faceres]
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { FaceEngine, largestFace } from '../src/faces/engine.js';
import { listLabeled } from '../src/faces/eval.js';
import { decodeImage } from '../src/util/image.js';
import type { RgbImage } from '../src/util/rgb.js';
import { dot, pairScores, tarAtFar } from '../src/faces/metrics.js';
import { resolveFfmpeg } from '../src/sources/ffmpeg.js';
import { machine, printTable, progress, writeResult } from './_util.js';

type Box = [number, number, number, number];

const { values } = parseArgs({
  options: {
    contexts: { type: 'string', default: '1.3,1.4,1.5,1.6,1.7,1.8,2' },
    model: { type: 'string', default: 'faceres' },
  },
});
const contexts = (values.contexts as string).split(',').map(Number);
const model = values.model as string;
const shared = join(process.cwd(), '..', 'shared', 'data');
const sets = ['bbt_crops', 'dlib_johns_crops', 'facerec_photos'].map((s) => join(shared, 'faces', s));
const enrollDir = join(shared, 'video', 'hamilton_enroll');
const clip = join(shared, 'video', 'short_hamilton_clip.mp4');
for (const p of [...sets, enrollDir, clip])
  if (!existsSync(p)) {
    console.error(`recognition-levers: ${p} not found`);
    process.exit(2);
  }

function mirror(img: RgbImage): RgbImage {
  const { width: w, height: h, pixels: p } = img;
  const q = new Uint8Array(p.length);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const s = (y * w + x) * 3;
      const d = (y * w + (w - 1 - x)) * 3;
      q[d] = p[s] as number;
      q[d + 1] = p[s + 1] as number;
      q[d + 2] = p[s + 2] as number;
    }
  return { width: w, height: h, pixels: q };
}
const mirrorBox = (b: Box, w: number): Box => [w - b[2], b[1], w - b[0], b[3]];

function unit(v: Float32Array): Float32Array {
  const n = Math.sqrt(dot(v, v)) || 1;
  return v.map((x) => x / n);
}
const meanOf = (a: Float32Array, b: Float32Array) => unit(a.map((x, i) => x + (b[i] as number)));

/** Original and mirrored embeddings of one face; `lowres`: also downscaled to these face widths. */
interface Face {
  o: Float32Array;
  m: Float32Array;
  lowres: Float32Array[];
}

async function embedFace(engine: FaceEngine, img: RgbImage, box: Box, lowres: number[] = []): Promise<Face> {
  const one = async (im: RgbImage, b: Box) =>
    ((await engine.embedFaces(im, [{ box: b, landmarks: [] }], 0))[0] as { embedding: Float32Array })
      .embedding;
  const o = await one(img, box);
  const m = await one(mirror(img), mirrorBox(box, img.width));
  const lr: Float32Array[] = [];
  for (const px of lowres) {
    const f = px / (box[2] - box[0]);
    if (f >= 0.95) {
      lr.push(o); // already that small
      continue;
    }
    const w = Math.max(8, Math.round(img.width * f));
    const h = Math.max(8, Math.round(img.height * f));
    const small = await sharp(Buffer.from(img.pixels), {
      raw: { width: img.width, height: img.height, channels: 3 },
    })
      .resize(w, h, { fit: 'fill' })
      .raw()
      .toBuffer();
    const [sx, sy] = [w / img.width, h / img.height];
    lr.push(
      await one({ width: w, height: h, pixels: new Uint8Array(small) }, [
        box[0] * sx,
        box[1] * sy,
        box[2] * sx,
        box[3] * sy,
      ]),
    );
  }
  return { o, m, lowres: lr };
}

const LOWRES = [64, 48];
interface Variant {
  query: (f: Face) => Float32Array;
  gallery: (f: Face) => Float32Array[];
}
const variants: Record<string, Variant> = {
  plain: { query: (f) => f.o, gallery: (f) => [f.o] },
  'flip TTA': { query: (f) => meanOf(f.o, f.m), gallery: (f) => [meanOf(f.o, f.m)] },
  'gallery mirror': { query: (f) => f.o, gallery: (f) => [f.o, f.m] },
  'gallery lowres': { query: (f) => f.o, gallery: (f) => [f.o, ...f.lowres] },
};

/** Best gallery identity and similarity (several rows per identity: the best row counts). */
function nearest(q: Float32Array, gallery: Map<string, Float32Array[]>, skip?: string): [string, number] {
  let best = '';
  let sim = -2;
  for (const [id, rows] of gallery) {
    if (id === skip) continue;
    for (const r of rows) {
      const s = dot(q, r);
      if (s > sim) [best, sim] = [id, s];
    }
  }
  return [best, sim];
}

// The clip's frames once, at the e2e test's size.
const frameDir = mkdtempSync(join(tmpdir(), 'vigil-levers-'));
execFileSync(resolveFfmpeg().path, [
  ...['-v', 'error', '-i', clip],
  // every other frame (15 fps) from the cut to the audience at 7.87 s, at the e2e test's size
  ...['-vf', 'select=gte(t\\,7.87)*not(mod(n\\,2)),scale=640:360', '-vsync', 'vfr'],
  join(frameDir, 'f_%03d.png'),
]);
const frameFiles = readdirSync(frameDir).sort();
progress(`${frameFiles.length} clip frames from 7.87 s`);

const results: Array<Record<string, unknown>> = [];
const rows: Array<Record<string, string | number>> = [];
try {
  for (const context of contexts) {
    const engine = new FaceEngine({ backend: 'auto', embedModel: model, align: false, context });
    await engine.start();
    try {
      let embedMs = 0;
      let embeds = 0;
      const setFaces: Array<{
        set: string;
        items: Array<{ identity: string; face: Face; enrolled: boolean }>;
      }> = [];
      for (const dir of sets) {
        const files = listLabeled(dir);
        const seen = new Set<string>();
        const items = [];
        for (const [i, f] of files.entries()) {
          const img = await decodeImage(f.file);
          const det = largestFace(await engine.detect(img));
          const enrolled = !seen.has(f.identity);
          seen.add(f.identity);
          const t = performance.now();
          const face = await embedFace(
            engine,
            img,
            det?.box ?? [0, 0, img.width, img.height],
            enrolled ? LOWRES : [],
          );
          embedMs += performance.now() - t;
          embeds += 2 + face.lowres.length;
          items.push({ identity: f.identity, face, enrolled });
          if ((i + 1) % 20 === 0 || i + 1 === files.length)
            progress(`context ${context}: ${basename(dir)} ${i + 1}/${files.length}`);
        }
        setFaces.push({ set: basename(dir), items });
      }
      const enroll = new Map<string, Face>();
      for (const person of readdirSync(enrollDir).sort()) {
        const img = await decodeImage(
          join(enrollDir, person, readdirSync(join(enrollDir, person))[0] as string),
        );
        const det = largestFace(await engine.detect(img));
        if (!det) throw new Error(`no face in the enrollment photo of ${person}`);
        enroll.set(person, await embedFace(engine, img, det.box, LOWRES));
      }
      const frames: Face[][] = [];
      for (const [i, file] of frameFiles.entries()) {
        const img = await decodeImage(join(frameDir, file));
        const faces = [];
        for (const d of await engine.detect(img)) faces.push(await embedFace(engine, img, d.box));
        frames.push(faces);
        if ((i + 1) % 10 === 0 || i + 1 === frameFiles.length)
          progress(`context ${context}: clip frame ${i + 1}/${frameFiles.length}`);
      }

      for (const [name, v] of Object.entries(variants)) {
        const strangers: number[] = [];
        const known: number[] = [];
        const perSet = setFaces.map(({ set, items }) => {
          const gallery = new Map(
            items.filter((it) => it.enrolled).map((it) => [it.identity, v.gallery(it.face)]),
          );
          let correct = 0;
          const queries = items.filter((it) => !it.enrolled);
          for (const it of queries) {
            const [id, s] = nearest(v.query(it.face), gallery);
            if (id === it.identity) correct++;
            known.push(id === it.identity ? s : Number.NEGATIVE_INFINITY);
          }
          for (const it of items) strangers.push(nearest(v.query(it.face), gallery, it.identity)[1]);
          const p = pairScores(items.map((it) => ({ identity: it.identity, embedding: v.query(it.face) })));
          return {
            set,
            rank1: correct / queries.length,
            tarAtFar1: tarAtFar(p.genuine, p.impostor, 0.01).tar,
          };
        });
        const open = tarAtFar(known, strangers, 0.01);
        const gallery = new Map([...enroll].map(([p, f]) => [p, v.gallery(f)]));
        const obama: number[] = [];
        let accepted = 0;
        let otherMax = -2;
        for (const faces of frames) {
          const q = faces.map((f) => v.query(f));
          const toObama = q.map((e) => Math.max(...(gallery.get('obama') ?? []).map((r) => dot(e, r))));
          const his = toObama.indexOf(Math.max(...toObama));
          if (his < 0) continue;
          obama.push(toObama[his] as number);
          const [id, s] = nearest(q[his] as Float32Array, gallery);
          if (id === 'obama' && s >= open.threshold) accepted++;
          for (const [k, e] of q.entries())
            if (k !== his) otherMax = Math.max(otherMax, nearest(e, gallery)[1]);
        }
        const sorted = [...obama].sort((a, b) => a - b);
        const r = {
          context,
          variant: name,
          perSet,
          openSet: {
            threshold: open.threshold,
            strangerFar: open.far,
            knownTar: open.tar,
            strangerQueries: strangers.length,
          },
          topStrangers: [...strangers].sort((a, b) => b - a).slice(0, 3),
          obama: {
            frames: obama.length,
            min: sorted[0],
            median: sorted[sorted.length >> 1],
            max: sorted.at(-1),
            accepted,
          },
          otherFacesMax: otherMax,
        };
        results.push(r);
        rows.push({
          context,
          variant: name,
          'rank-1 (bbt/dlib/photos)': perSet.map((s) => s.rank1.toFixed(3)).join('/'),
          'TAR@FAR1% (bbt)': (perSet[0]?.tarAtFar1 ?? Number.NaN).toFixed(3),
          threshold: open.threshold.toFixed(4),
          'stranger FAR': open.far.toFixed(3),
          'known TAR': open.tar.toFixed(3),
          'Obama min/median/max': `${r.obama.min?.toFixed(3)}/${r.obama.median?.toFixed(3)}/${r.obama.max?.toFixed(3)}`,
          'Obama accepted': `${accepted}/${obama.length}`,
          'other faces max': otherMax.toFixed(3),
        });
      }
      results.push({ context, msPerEmbedding: embedMs / embeds });
      progress(`context ${context}: ${(embedMs / embeds).toFixed(0)} ms per embedding`);
    } finally {
      await engine.close();
    }
  }
} finally {
  rmSync(frameDir, { recursive: true, force: true });
}
printTable(rows);
const file = writeResult('recognition-levers', {
  date: new Date().toISOString(),
  machine: machine(),
  model,
  clip: { file: basename(clip), from: 7.87, fps: 15, frames: frameFiles.length },
  results,
});
console.log(`written to ${file}`);
