// Style quality, judged independently. npm run bench -- style-quality [--styles a,b] [--compare DIR]
// [--size 192] [--steps 80] [--times 0.5,4.5] [--photos 2] [--flicker-frames 40] [--no-grids]
// [--result NAME] (bench/results/NAME.json; default style-quality, style-quality-compare with --compare)
//
// For every style: the style distance (centred Gram matrices) to its painting and the content distance
// to the input, measured by src/style/judge.ts (random-feature CNNs no training uses), on held-out
// frames (frames of the shared clip half-way between the 1 fps frames training sampled, and the
// Hamilton enrollment photos, which no training content list includes); next to the same measures
// for `vigil style optimize` on the same frames (the slow optimum) and for the unstyled frame.
// Then flicker on the shared clip: mean absolute difference of consecutive outputs minus that of the
// inputs, without and with the runtime smoothing. `--compare DIR` adds the styles of another styles
// folder (e.g. retrained ones) to the same run: before/after in one table.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { resolveFfmpeg } from '../src/sources/ffmpeg.js';
import { styleTf } from '../src/style/backend.js';
import { readStyleImage } from '../src/style/data.js';
import { type JudgeFeatures, StyleJudge } from '../src/style/judge.js';
import { optimizeStyle } from '../src/style/optimize.js';
import { StyleRunner } from '../src/style/runner.js';
import { listStyles, loadStyleDir, type StoredStyle } from '../src/style/store.js';
import type { RgbImage } from '../src/util/rgb.js';
import { machine, printTable, progress, writeResult } from './_util.js';

const { values } = parseArgs({
  options: {
    styles: { type: 'string' },
    compare: { type: 'string' },
    size: { type: 'string', default: '192' },
    steps: { type: 'string', default: '80' },
    times: { type: 'string', default: '0.5,4.5' },
    photos: { type: 'string', default: '2' },
    'flicker-frames': { type: 'string', default: '40' },
    'no-grids': { type: 'boolean', default: false },
    // styles measured in a later run get their own result (and table) instead of replacing the others
    result: { type: 'string' },
    shared: { type: 'string', default: join(process.cwd(), '..', 'shared', 'data') },
  },
});
const SHARED = values.shared as string;
const CLIP = join(SHARED, 'video', 'short_hamilton_clip.mp4');
const PAINTINGS = join(SHARED, 'style', 'paintings');
const SIZE = Number(values.size);
const STEPS = Number(values.steps);
const CACHE = join(process.cwd(), '.scratch', 'style-quality');
const GRIDS = join(process.cwd(), 'docs', 'img', 'style');

interface HeldOut {
  id: string;
  img: RgbImage;
  file: string;
}

/** Dimensions fitting `size` on the longer side, multiples of 4 (the net pads otherwise). */
function fit(w: number, h: number): [number, number] {
  const s = SIZE / Math.max(w, h);
  return [Math.round((w * s) / 4) * 4, Math.round((h * s) / 4) * 4];
}

async function saveHeldOut(id: string, img: RgbImage): Promise<HeldOut> {
  mkdirSync(join(CACHE, 'frames'), { recursive: true });
  const file = join(CACHE, 'frames', `${id}-${img.width}x${img.height}.png`);
  await sharp(Buffer.from(img.pixels), { raw: { width: img.width, height: img.height, channels: 3 } })
    .png()
    .toFile(file);
  return { id, img, file };
}

/** `n` consecutive frames of the clip from `t` seconds, at w x h. */
function clipFrames(t: number, n: number, w: number, h: number): RgbImage[] {
  const args = [
    '-v',
    'error',
    '-ss',
    String(t),
    '-i',
    CLIP,
    '-frames:v',
    String(n),
    '-vf',
    `scale=${w}:${h}`,
  ];
  const r = spawnSync(resolveFfmpeg().path, [...args, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], {
    maxBuffer: 1 << 28,
  });
  if (r.status !== 0 || r.stdout.length < w * h * 3 * n)
    throw new Error(`ffmpeg: no ${n} frames at ${t} s of ${CLIP}: ${r.stderr?.toString().trim()}`);
  return Array.from({ length: n }, (_, i) => ({
    width: w,
    height: h,
    pixels: new Uint8Array(r.stdout.subarray(i * w * h * 3, (i + 1) * w * h * 3)),
  }));
}

/** Held-out content: clip frames at the given times, and enrollment photos. */
async function heldOutFrames(): Promise<HeldOut[]> {
  const out: HeldOut[] = [];
  const [w, h] = fit(640, 360);
  for (const t of (values.times as string).split(',').map(Number)) {
    const [frame] = clipFrames(t, 1, w, h) as [RgbImage];
    out.push(await saveHeldOut(`clip-${t}s`, frame));
  }
  const people = ['obama', 'lin_manuel_miranda', 'alex_lacamoire'].slice(0, Number(values.photos));
  for (const p of people) {
    const dir = join(SHARED, 'video', 'hamilton_enroll', p);
    const f = ['obama.jpg', 'lin-manuel-miranda.png', 'alex-lacamoire.png'].find((x) =>
      existsSync(join(dir, x)),
    );
    if (!f) throw new Error(`no enrollment photo in ${dir}`);
    const meta = await sharp(join(dir, f)).metadata();
    const [pw, ph] = fit(meta.width ?? SIZE, meta.height ?? SIZE);
    const { data } = await sharp(join(dir, f))
      .resize(pw, ph, { fit: 'fill' })
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    out.push(await saveHeldOut(`photo-${p}`, { width: pw, height: ph, pixels: new Uint8Array(data) }));
  }
  return out;
}

/** `vigil style optimize` on one held-out frame with the style's recipe; cached by its inputs. */
async function optimized(style: StoredStyle, painting: string, frame: HeldOut): Promise<RgbImage> {
  const r = style.manifest.recipe;
  const o = {
    content: frame.file,
    style: painting,
    lossNet: style.manifest.lossNet,
    init: 'content' as const,
    steps: STEPS,
    lr: 4,
    size: SIZE,
    styleSize: r.styleSize,
    alpha: r.alpha,
    beta: r.beta,
    gamma: r.gamma,
    // the same style cost as the net's training (absent for plain single-scale Grams: old cache keys hold)
    ...(r.gram ? { gram: r.gram } : {}),
    ...(r.styleScales ? { styleScales: r.styleScales } : {}),
    seed: 1,
    backend: 'wasm' as const,
  };
  const key = createHash('sha256')
    .update(JSON.stringify({ ...o, content: basename(frame.file), painting: r.styleImage.sha256 }))
    .digest('hex')
    .slice(0, 16);
  const out = join(CACHE, 'optimized', `${frame.id}-${key}.png`);
  if (!existsSync(out)) {
    mkdirSync(join(CACHE, 'optimized'), { recursive: true });
    progress(`optimize ${style.manifest.name} on ${frame.id}: ${STEPS} steps`);
    await optimizeStyle({ ...o, out, quiet: true });
  }
  const { data, info } = await sharp(out).raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, pixels: new Uint8Array(data) };
}

const mad = (a: Uint8Array, b: Uint8Array) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs((a[i] as number) - (b[i] as number));
  return s / a.length;
};
const meanMad = (seq: Uint8Array[]) =>
  seq.slice(1).reduce((s, f, i) => s + mad(f, seq[i] as Uint8Array), 0) / Math.max(1, seq.length - 1);

/** Consecutive output MAD minus input MAD on the clip's first frames, for each smoothing. */
function flicker(tf: Awaited<ReturnType<typeof styleTf>>['tf'], style: StoredStyle, clip: RgbImage[]) {
  const input = meanMad(clip.map((f) => f.pixels));
  return [0, 0.6].map((smoothing) => {
    const r = new StyleRunner(tf, style);
    const outs = clip.map((f) => r.run(f.pixels, f.width, f.height, { smoothing }));
    r.dispose();
    return { smoothing, input, output: meanMad(outs), flicker: meanMad(outs) - input };
  });
}

/** A strip per held-out frame: input | net | optimize, rows stacked; written as a JPEG. */
async function writeGrid(file: string, rows: RgbImage[][]): Promise<void> {
  const w = Math.max(...rows.flat().map((i) => i.width));
  const h = Math.max(...rows.flat().map((i) => i.height));
  const composites = await Promise.all(
    rows.flatMap((row, y) =>
      row.map(async (img, x) => ({
        input: await sharp(Buffer.from(img.pixels), {
          raw: { width: img.width, height: img.height, channels: 3 },
        })
          .png()
          .toBuffer(),
        left: x * (w + 4),
        top: y * (h + 4),
      })),
    ),
  );
  await sharp({
    create: { width: 3 * w + 8, height: rows.length * (h + 4) - 4, channels: 3, background: '#fff' },
  })
    .composite(composites)
    .jpeg({ quality: 82 })
    .toFile(file);
}

interface Scored {
  style: number[];
  content: number[];
}
const f3 = (x: number) => x.toFixed(3);
const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

async function judgeStyle(
  ctx: {
    tf: Awaited<ReturnType<typeof styleTf>>['tf'];
    judge: StyleJudge;
    frames: HeldOut[];
    clip: RgbImage[];
  },
  label: string,
  style: StoredStyle,
) {
  const { tf, judge, frames } = ctx;
  const painting = join(PAINTINGS, style.manifest.recipe.styleImage.file);
  const pf = judge.features(await readStyleImage(painting, style.manifest.recipe.styleSize));
  const score: Record<'input' | 'net' | 'optimize', Scored> = {
    input: { style: [], content: [] },
    net: { style: [], content: [] },
    optimize: { style: [], content: [] },
  };
  const grid: RgbImage[][] = [];
  const runner = new StyleRunner(tf, style);
  for (const fr of frames) {
    const inF = judge.features(fr.img);
    const net: RgbImage = { ...fr.img, pixels: runner.run(fr.img.pixels, fr.img.width, fr.img.height) };
    const opt = await optimized(style, painting, fr);
    for (const [k, img] of [
      ['input', fr.img],
      ['net', net],
      ['optimize', opt],
    ] as const) {
      const f: JudgeFeatures = judge.features(img);
      score[k].style.push(judge.styleDistance(f, pf));
      score[k].content.push(judge.contentDistance(f, inF));
      judge.release(f);
    }
    judge.release(inF);
    if (grid.length < 2) grid.push([fr.img, net, opt]);
  }
  runner.dispose();
  judge.release(pf);
  if (!values['no-grids'] && !values.compare)
    await writeGrid(join(GRIDS, `quality-${style.manifest.name}.jpg`), grid);
  const fl = flicker(tf, style, ctx.clip);
  const s = { input: avg(score.input.style), net: avg(score.net.style), opt: avg(score.optimize.style) };
  progress(`${label}: style ${s.net.toFixed(3)} (optimize ${s.opt.toFixed(3)})`);
  return {
    row: {
      style: label,
      frames: frames.length,
      'style: input': f3(s.input),
      'style: net': f3(s.net),
      'style: optimize': f3(s.opt),
      // how far the net got from the unstyled frame towards the optimum
      'net % of the way': ((100 * (s.input - s.net)) / (s.input - s.opt)).toFixed(0),
      'content: net': f3(avg(score.net.content)),
      'content: optimize': f3(avg(score.optimize.content)),
      'clip MAD': f3(fl[0]?.input ?? Number.NaN),
      'flicker (k 0)': f3(fl[0]?.flicker ?? Number.NaN),
      'flicker (k 0.6)': f3(fl[1]?.flicker ?? Number.NaN),
    },
    detail: { label, dir: style.dir, score, flicker: fl, frames: frames.map((f) => f.id) },
  };
}

const { tf, backend } = await styleTf('wasm');
const judge = new StyleJudge(tf);
const frames = await heldOutFrames();
// frames from 2 s: the clip's first frames are nearly still
const clip = clipFrames(2, Number(values['flicker-frames']), 480, 270);
const wanted = values.styles ? new Set((values.styles as string).split(',')) : undefined;
const sets: Array<[string, Map<string, string>]> = [['', listStyles()]];
if (values.compare)
  sets.push([` (${basename(values.compare as string)})`, listStyles([values.compare as string])]);
const rows: Array<Record<string, string | number>> = [];
const details: unknown[] = [];
for (const [suffix, styles] of sets)
  for (const [name, dir] of styles) {
    if (wanted && !wanted.has(name)) continue;
    const r = await judgeStyle({ tf, judge, frames, clip }, `${name}${suffix}`, loadStyleDir(dir));
    rows.push(r.row);
    details.push(r.detail);
  }
judge.dispose();
console.log(
  `\nStyle quality by an independent judge (${judge.options.kernels.length} random CNNs x scales ${judge.options.scales.join(', ')}), ${frames.length} held-out frames at ${SIZE} px; optimize: ${STEPS} Adam steps; flicker: ${clip.length} clip frames at 480x270 (output MAD - input MAD)\n`,
);
printTable(rows);
const resultName = values.result ?? (values.compare ? 'style-quality-compare' : 'style-quality');
const file = writeResult(resultName, {
  date: new Date().toISOString(),
  machine: machine(),
  params: {
    backend: `tfjs-${backend}`,
    size: SIZE,
    steps: STEPS,
    judge: judge.options,
    frames: frames.map((f) => f.id),
  },
  rows,
  details,
});
console.log(`\nwrote ${file}`);
