import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { loadPipeline, stageConfig } from '../../pipeline/definition.js';
import type { RecognizeStageConfig } from '../../pipeline/stages/recognize.js';
import { DEFAULT_DETECTOR } from '../detect/blazeface.js';
import { FaceEngine } from '../engine.js';
import sharp from 'sharp';
import { type AnalyzedFace, largestFace } from '../engine.js';
import { listLabeled } from '../eval.js';
import { decodeImage } from '../../util/image.js';
import type { Labeled } from '../metrics.js';
import { spaceVersion } from '../thresholds.js';
import { Rng } from '../../util/rng.js';

/** One embedded image of a labelled folder. `identity` is "SET/person" (sets never share people). */
export interface Sample extends Labeled {
  set: string;
  file: string;
  detected: boolean;
  /** A training-only variant of a colour image (e.g. converted to grayscale); never a test item. */
  augmented?: Augment;
}

/** Image-level augmentations: `gray` embeds a grayscale copy of every colour image. */
export type Augment = 'gray';

export interface EmbedSettings {
  model: string;
  align: boolean;
  context: number;
  backend: 'auto' | 'tensorflow' | 'wasm' | 'cpu';
  tiles?: number;
}

/** The recognize pipeline's embedding settings (what the gallery uses), with overrides. */
export function recognizeEmbedSettings(over: Partial<EmbedSettings> = {}): EmbedSettings {
  const rec = stageConfig(loadPipeline('recognize'), 'recognize') as RecognizeStageConfig;
  return { model: rec.model, align: rec.align, context: rec.context, backend: 'auto', ...over };
}

export const spaceOf = (s: EmbedSettings) => spaceVersion(s.align, s.context);

/** The cache folder for embedded labelled folders (the OS temp dir). */
export const CACHE_DIR = join(tmpdir(), 'vigil-embeddings');

/** Cache key of one folder: model, space, detector settings and every file's path, size and mtime. */
export function cacheKey(dir: string, s: EmbedSettings, augment?: Augment): string {
  const files = listLabeled(dir).map((f) => {
    const st = statSync(f.file);
    return [f.file, st.size, Math.round(st.mtimeMs)];
  });
  const detector = { ...DEFAULT_DETECTOR, tiles: s.tiles ?? 1 };
  return createHash('sha256')
    .update(JSON.stringify({ v: 1, model: s.model, space: spaceOf(s), detector, files, augment }))
    .digest('hex')
    .slice(0, 20);
}

interface CacheFile {
  model: string;
  space: string;
  dim: number;
  items: Array<{ identity: string; file: string; detected: boolean; e: string }>;
}

const toB64 = (v: Float32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
const fromB64 = (s: string) => {
  const b = Buffer.from(s, 'base64');
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};

/**
 * Embeds every image of a labelled folder like `vigil eval faces` does (the largest detected face,
 * else the whole image); with `augment`, a transformed copy of each colour image instead (images
 * that are already single-channel are skipped).
 */
async function embedFolderAs(
  engine: FaceEngine,
  dir: string,
  augment: Augment | undefined,
  progress?: (done: number, total: number) => void,
): Promise<Array<{ identity: string; file: string; detected: boolean; embedding: Float32Array }>> {
  const files = listLabeled(dir);
  const out: Array<{ identity: string; file: string; detected: boolean; embedding: Float32Array }> = [];
  for (const [i, f] of files.entries()) {
    let input: Buffer | string = f.file;
    if (augment === 'gray') {
      const meta = await sharp(f.file).metadata();
      if ((meta.channels ?? 3) < 3) {
        progress?.(i + 1, files.length);
        continue;
      }
      input = await sharp(f.file).rotate().grayscale().png().toBuffer();
    }
    const img = await decodeImage(input);
    const face = largestFace(await engine.detect(img));
    const box: [number, number, number, number] = face?.box ?? [0, 0, img.width, img.height];
    const [e] = (await engine.embedFaces(
      img,
      [{ box, landmarks: face?.landmarks ?? [] }],
      0,
    )) as AnalyzedFace[];
    out.push({
      identity: f.identity,
      file: f.file,
      detected: Boolean(face),
      embedding: (e as AnalyzedFace).embedding,
    });
    progress?.(i + 1, files.length);
  }
  return out;
}

/**
 * Embeds labelled folders (one sub-folder per identity) the way `vigil eval faces` does: the largest
 * detected face, else the whole image. Each folder's vectors are cached under the OS temp dir, keyed
 * by model, space and the file list, so reruns take milliseconds; the engine starts only on a miss.
 * `augment`: also embed transformed copies (training-only samples, marked `augmented`).
 */
export async function embedSets(
  dirs: string[],
  settings: EmbedSettings,
  progress?: (msg: string) => void,
  opts: { augment?: Augment[] } = {},
): Promise<{ samples: Sample[]; dim: number; space: string; cached: number }> {
  const samples: Sample[] = [];
  let engine: FaceEngine | undefined;
  let dim = 0;
  let cached = 0;
  mkdirSync(CACHE_DIR, { recursive: true });
  try {
    for (const d of dirs) {
      const dir = resolve(d);
      const set = basename(dir);
      for (const augment of [undefined, ...(opts.augment ?? [])]) {
        const tag = augment ? `${set}~${augment}` : set;
        const file = join(
          CACHE_DIR,
          `${settings.model}-${spaceOf(settings)}-${tag}-${cacheKey(dir, settings, augment)}.json`,
        );
        let data: CacheFile | undefined;
        if (existsSync(file)) {
          try {
            data = JSON.parse(readFileSync(file, 'utf8')) as CacheFile;
            cached++;
            progress?.(`${tag}: ${data.items.length} embeddings from cache ${file}`);
          } catch {
            data = undefined;
          }
        }
        if (!data) {
          if (!engine) {
            progress?.(`starting ${settings.model} (${spaceOf(settings)}) on ${settings.backend}`);
            engine = new FaceEngine({
              backend: settings.backend,
              embedModel: settings.model,
              align: settings.align,
              context: settings.context,
              detector: { tiles: settings.tiles },
            });
            await engine.start();
          }
          let last = 0;
          const items = await embedFolderAs(engine, dir, augment, (done, total) => {
            if (done === total || performance.now() - last > 2000) {
              last = performance.now();
              progress?.(`${tag}: embedded ${done}/${total} images`);
            }
          });
          data = {
            model: settings.model,
            space: spaceOf(settings),
            dim: items[0]?.embedding.length ?? 0,
            items: items.map((i) => ({
              identity: i.identity,
              file: i.file,
              detected: i.detected,
              e: toB64(i.embedding),
            })),
          };
          writeFileSync(`${file}.tmp`, JSON.stringify(data));
          renameSync(`${file}.tmp`, file);
        }
        if (!data.items.length) continue;
        if (dim && data.dim !== dim)
          throw new Error(`learn: ${dir} embedded to ${data.dim}-d, others ${dim}-d`);
        dim = data.dim;
        for (const it of data.items)
          samples.push({
            identity: `${set}/${it.identity}`,
            set,
            file: it.file,
            detected: it.detected,
            embedding: fromB64(it.e),
            ...(augment ? { augmented: augment } : {}),
          });
      }
    }
  } finally {
    await engine?.close();
  }
  return { samples, dim, space: spaceOf(settings), cached };
}

const identitiesOf = (s: Sample[]) => [...new Set(s.map((x) => x.identity))];

/**
 * Identities split into train and validation/test, stratified by set (each set contributes about
 * `fraction` of its identities, at least one when it has two or more): no identity is on both sides.
 */
export function splitIdentities(
  samples: Sample[],
  fraction: number,
  seed: number,
): { train: Sample[]; test: Sample[] } {
  if (fraction <= 0) return { train: samples, test: [] };
  const rng = new Rng(seed);
  const held = new Set<string>();
  for (const set of [...new Set(samples.map((s) => s.set))]) {
    const ids = rng.shuffle(identitiesOf(samples.filter((s) => s.set === set && !s.augmented)).sort());
    const k = ids.length < 2 ? 0 : Math.max(1, Math.round(ids.length * fraction));
    for (const id of ids.slice(0, Math.min(k, ids.length - 1))) held.add(id);
  }
  return {
    train: samples.filter((s) => !held.has(s.identity)),
    test: samples.filter((s) => held.has(s.identity) && !s.augmented),
  };
}

/**
 * k folds over identities, stratified by set: each set's identities are shuffled and dealt round-robin
 * into k folds; fold i is the test side once. Pick k so that every fold holds at least two identities
 * of each set (impostor pairs need two): k <= identities / 2.
 */
export function kFoldIdentities(
  samples: Sample[],
  k: number,
  seed: number,
): Array<{ train: Sample[]; test: Sample[] }> {
  const rng = new Rng(seed);
  const folds: Array<Set<string>> = Array.from({ length: k }, () => new Set());
  for (const set of [...new Set(samples.map((s) => s.set))]) {
    const ids = rng.shuffle(identitiesOf(samples.filter((s) => s.set === set && !s.augmented)).sort());
    ids.forEach((id, i) => {
      folds[i % k]?.add(id);
    });
  }
  return folds.map((test) => ({
    train: samples.filter((s) => !test.has(s.identity)),
    test: samples.filter((s) => test.has(s.identity) && !s.augmented),
  }));
}

/** Integer labels per identity (for mining) and the identity names. */
export function labelsOf(samples: Labeled[]): { labels: Int32Array; names: string[] } {
  const names: string[] = [];
  const index = new Map<string, number>();
  const labels = new Int32Array(samples.length);
  samples.forEach((s, i) => {
    let l = index.get(s.identity);
    if (l === undefined) {
      l = names.length;
      names.push(s.identity);
      index.set(s.identity, l);
    }
    labels[i] = l;
  });
  return { labels, names };
}
