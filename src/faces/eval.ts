import { readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { type AnalyzedFace, FaceEngine, type FaceEngineOptions, largestFace } from './engine.js';
import { decodeImage } from '../util/image.js';
import { type Labeled, oneShot, pairScores, rocAuc, tarAtFar } from './metrics.js';

const IMAGE = /\.(jpe?g|png|webp|pgm|ppm|bmp|tiff?)$/i;

/** Folders per identity, image files inside. */
export function listLabeled(dir: string): Array<{ identity: string; file: string }> {
  let ids: string[];
  try {
    ids = readdirSync(dir)
      .filter((d) => statSync(join(dir, d)).isDirectory())
      .sort();
  } catch (e) {
    throw new Error(`eval: cannot read --dir ${dir}: ${(e as Error).message}`);
  }
  const out = ids.flatMap((id) =>
    readdirSync(join(dir, id))
      .filter((f) => IMAGE.test(f))
      .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
      .map((f) => ({ identity: id, file: join(dir, id, f) })),
  );
  if (new Set(out.map((o) => o.identity)).size < 2)
    throw new Error(`eval: ${dir} needs at least two identity folders with images`);
  return out;
}

export interface EvalReport {
  dir: string;
  model: string;
  align: boolean;
  identities: number;
  images: number;
  /** Images where no face was found; the whole image was used as the face. */
  noFace: number;
  rank1: number;
  queries: number;
  genuinePairs: number;
  impostorPairs: number;
  tarAtFar1: number;
  tarAtFar01: number;
  rocAuc: number;
  /** Similarity threshold at FAR 1% on this set's impostor pairs. */
  thresholdAtFar1: number;
  /** The threshold the decision used (given, or thresholdAtFar1). */
  threshold: number;
  /** Non-enrolled identities taken for an enrolled one at `threshold` (open set). */
  strangerFar: number;
  /** Enrolled queries correctly identified and accepted at `threshold`. */
  knownTar: number;
  msDetectPerImage: number;
  msEmbedPerFace: number;
}

export interface EvalItem extends Labeled {
  file: string;
  detected: boolean;
}

/** Embeds every image of a labelled folder: the largest detected face, else the whole image. */
export async function embedFolder(
  engine: FaceEngine,
  dir: string,
  progress?: (done: number, total: number) => void,
) {
  const files = listLabeled(dir);
  const items: EvalItem[] = [];
  let detectMs = 0;
  let embedMs = 0;
  for (const [i, f] of files.entries()) {
    const img = await decodeImage(f.file);
    let t = performance.now();
    const face = largestFace(await engine.detect(img));
    detectMs += performance.now() - t;
    t = performance.now();
    const box: [number, number, number, number] = face?.box ?? [0, 0, img.width, img.height];
    const [e] = (await engine.embedFaces(
      img,
      [{ box, landmarks: face?.landmarks ?? [] }],
      0,
    )) as AnalyzedFace[];
    embedMs += performance.now() - t;
    items.push({
      identity: f.identity,
      file: f.file,
      embedding: (e as AnalyzedFace).embedding,
      detected: Boolean(face),
    });
    progress?.(i + 1, files.length);
  }
  return { items, msDetectPerImage: detectMs / files.length, msEmbedPerFace: embedMs / files.length };
}

/** The metrics of `vigil eval faces` for one folder. */
export function score(
  items: EvalItem[],
  meta: { dir: string; model: string; align: boolean; msDetectPerImage: number; msEmbedPerFace: number },
  threshold?: number,
): EvalReport & { strangerSims: number[]; knownSims: number[] } {
  const { genuine, impostor } = pairScores(items);
  const far1 = tarAtFar(genuine, impostor, 0.01);
  const far01 = tarAtFar(genuine, impostor, 0.001);
  const th = threshold ?? far1.threshold;
  const os = oneShot(items, th);
  return {
    dir: meta.dir,
    model: meta.model,
    align: meta.align,
    identities: new Set(items.map((i) => i.identity)).size,
    images: items.length,
    noFace: items.filter((i) => !i.detected).length,
    rank1: os.rank1,
    queries: os.queries,
    genuinePairs: genuine.length,
    impostorPairs: impostor.length,
    tarAtFar1: far1.tar,
    tarAtFar01: far01.tar,
    rocAuc: rocAuc(genuine, impostor),
    thresholdAtFar1: far1.threshold,
    threshold: th,
    strangerFar: os.strangerFar,
    knownTar: os.knownTar,
    msDetectPerImage: meta.msDetectPerImage,
    msEmbedPerFace: meta.msEmbedPerFace,
    strangerSims: os.strangerSims,
    knownSims: os.knownSims,
  };
}

/**
 * The open-set operating point over several sets: the lowest threshold at which at most `far` of
 * the strangers' best matches pass, and the share of enrolled people's queries accepted there.
 */
export function openSetThreshold(strangerSims: number[], knownSims: number[], far = 0.01) {
  const r = tarAtFar(knownSims, strangerSims, far);
  return { threshold: r.threshold, strangerFar: r.far, knownTar: r.tar };
}

export async function evalFaces(
  dirs: string[],
  opts: FaceEngineOptions & { threshold?: number; progress?: (msg: string) => void },
): Promise<{
  reports: EvalReport[];
  pooled: { thresholdAtFar1: number; tarAtFar1: number; far: number };
  openSet: { threshold: number; strangerFar: number; knownTar: number; strangerQueries: number };
}> {
  const engine = new FaceEngine(opts);
  await engine.start();
  try {
    const reports: EvalReport[] = [];
    const all: { genuine: number[]; impostor: number[] } = { genuine: [], impostor: [] };
    const strangers: number[] = [];
    const known: number[] = [];
    for (const dir of dirs) {
      let last = 0;
      const r = await embedFolder(engine, dir, (done, total) => {
        if (done === total || performance.now() - last > 2000) {
          last = performance.now();
          opts.progress?.(`${basename(dir)}: ${done}/${total} images`);
        }
      });
      const p = pairScores(r.items);
      all.genuine.push(...p.genuine);
      all.impostor.push(...p.impostor);
      const { strangerSims, knownSims, ...rep } = score(
        r.items,
        {
          dir,
          model: opts.embedModel,
          align: opts.align,
          msDetectPerImage: r.msDetectPerImage,
          msEmbedPerFace: r.msEmbedPerFace,
        },
        opts.threshold,
      );
      strangers.push(...strangerSims);
      known.push(...knownSims);
      reports.push(rep);
    }
    const pooled = tarAtFar(all.genuine, all.impostor, 0.01);
    return {
      reports,
      pooled: { thresholdAtFar1: pooled.threshold, tarAtFar1: pooled.tar, far: pooled.far },
      openSet: { ...openSetThreshold(strangers, known, 0.01), strangerQueries: strangers.length },
    };
  } finally {
    await engine.close();
  }
}
