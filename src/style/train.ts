/**
 * `vigil style train`: trains a feed-forward style network (src/style/net.ts) on random crops of a
 * content set against one painting, minimising J(G) = alpha J_content + beta J_style + gamma TV
 * (src/style/loss.ts) measured by a fixed loss network (src/style/loss-net.ts), with Adam.
 *
 * Scales: each style layer's weight is 1 / (L * ||S_l||^2), the squared norm of the painting's Gram
 * matrix at that layer, and the content cost is divided by the mean square of the content activations
 * (measured on a few crops at the start), so alpha and beta are relative weights near 1 whatever the
 * loss network. Checkpoints (parameters and Adam's moments) are written every `checkpointEvery` steps
 * to NAME/checkpoint/ and `resume` continues from the last one.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type * as tfTypes from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { Rng } from '../util/rng.js';
import type { BackendPreference } from '../inference/tfjs-engine.js';
import { progress } from '../util/progress.js';
import type { RgbImage } from '../util/rgb.js';
import { styleTf, type Tf } from './backend.js';
import { loadContent, randomCrop } from './data.js';
import { contentCost, styleCost, temporalCost, tvCost } from './loss.js';
import { createLossNet, type LossNet, type LossNetName } from './loss-net.js';
import { forward, initParams, paramCount, paramShapes, STYLE_ARCHS, type StyleNetArch } from './net.js';
import { loadStyleDir, saveStyle, STYLE_NAME, STYLES_DIR, type StyleManifest } from './store.js';
import { readStyleScales, type StyleTargets, styleTargets } from './targets.js';

type T4 = tfTypes.Tensor4D;

export interface TrainOptions {
  name: string;
  style: string;
  content: string[];
  arch: string;
  lossNet: LossNetName;
  steps: number;
  batch: number;
  /** Training crop side (multiple of 4). */
  size: number;
  /** The painting's longer side when its Gram matrices are taken. */
  styleSize: number;
  lr: number;
  alpha: number;
  beta: number;
  gamma: number;
  /** Weight of the temporal term (0: off): outputs of a crop and of a shifted, noised copy agree. */
  temporal?: number;
  /** The painting's Gram matrices: 'plain' or of mean-centred activations (src/style/targets.ts). */
  gram?: 'plain' | 'centred';
  /** Multiples of styleSize the painting is read at; the style target is their mean Gram. */
  styleScales?: number[];
  /** Start from this style folder's parameters (same architecture): fine-tuning. */
  initFrom?: string;
  seed: number;
  outRoot: string;
  checkpointEvery: number;
  resume: boolean;
  painting?: string;
  backend: BackendPreference;
  maxContentImages?: number;
  /** Progress line (default: stderr). Tests pass a no-op. */
  quiet?: boolean;
  log?: (m: string) => void;
  /** Called every step with the step's losses (tests, benchmarks, the page's job); throwing stops training. */
  onStep?: (step: number, losses: StepLosses) => void | Promise<void>;
  /** Every `every` steps (and at the end), the net's output on `image` (RGB24, sides multiples of 4). */
  preview?: { every: number; image: RgbImage; onPreview: (step: number, rgb: Uint8Array) => void };
}

export interface StepLosses {
  total: number;
  content: number;
  style: number;
  tv: number;
  temporal?: number;
}

/** The temporal term's copy: shifted by this many pixels (a multiple of the net's stride, 4)... */
const TEMPORAL_SHIFT = 4;
/** ...with this much Gaussian camera noise (0..255). */
const TEMPORAL_NOISE = 4;

/**
 * The shipped styles' recipe (docs/style.md "The recipe"): covariance Grams of the painting at two
 * scales, beta 2, the temporal term at 100, 450 steps of two 128 px crops.
 */
export const TRAIN_DEFAULTS = {
  arch: 'small',
  lossNet: 'mobilenet' as LossNetName,
  steps: 450,
  batch: 2,
  size: 128,
  styleSize: 384,
  lr: 5e-3,
  alpha: 1,
  beta: 2,
  gamma: 2,
  temporal: 100,
  gram: 'centred' as 'plain' | 'centred',
  styleScales: [0.5, 1],
  seed: 1,
  checkpointEvery: 100,
};

interface Checkpoint {
  step: number;
  names: string[];
  shapes: number[][];
  resumedAt: number[];
  contentScale: number;
}

function writeCheckpoint(
  dir: string,
  step: number,
  named: Array<{ name: string; tensor: tfTypes.Tensor }>,
  meta: Omit<Checkpoint, 'step' | 'names' | 'shapes'>,
): void {
  mkdirSync(dir, { recursive: true });
  const bufs = named.map((n) => Buffer.from((n.tensor.dataSync() as Float32Array).slice().buffer));
  const state: Checkpoint = {
    step,
    names: named.map((n) => n.name),
    shapes: named.map((n) => n.tensor.shape),
    ...meta,
  };
  writeFileSync(join(dir, '.tensors.bin.tmp'), Buffer.concat(bufs));
  renameSync(join(dir, '.tensors.bin.tmp'), join(dir, 'tensors.bin'));
  writeFileSync(join(dir, '.state.json.tmp'), JSON.stringify(state));
  renameSync(join(dir, '.state.json.tmp'), join(dir, 'state.json'));
}

function readCheckpoint(
  tf: Tf,
  dir: string,
): { state: Checkpoint; tensors: Map<string, tfTypes.Tensor> } | null {
  if (!existsSync(join(dir, 'state.json'))) return null;
  const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as Checkpoint;
  const bin = readFileSync(join(dir, 'tensors.bin'));
  const tensors = new Map<string, tfTypes.Tensor>();
  let off = 0;
  state.names.forEach((name, i) => {
    const shape = state.shapes[i] as number[];
    const n = shape.reduce((a, b) => a * b, 1);
    if (off + n * 4 > bin.length) throw new Error(`checkpoint ${dir}: tensors.bin is truncated at "${name}"`);
    const data = new Float32Array(bin.buffer.slice(bin.byteOffset + off, bin.byteOffset + off + n * 4));
    tensors.set(name, tf.tensor(data, shape, 'float32'));
    off += n * 4;
  });
  return { state, tensors };
}

/** What one training run holds while it steps. */
interface StyleRun {
  tf: Tf;
  o: TrainOptions;
  arch: StyleNetArch;
  net: LossNet;
  targets: StyleTargets;
  vars: Record<string, tfTypes.Variable>;
  optimizer: tfTypes.AdamOptimizer;
  /** A batch of random content crops (consumes the run's Rng). */
  nextBatch: () => T4;
  ckDir: string;
  /** Steps at which earlier runs were resumed (and this one, when it resumed). */
  resumedAt: number[];
  contentScale: number;
}

function checkedArch(o: TrainOptions): StyleNetArch {
  if (!STYLE_NAME.test(o.name))
    throw new Error(`style name "${o.name}" must match ${STYLE_NAME} (lower-case letters, digits, - and _)`);
  const arch = STYLE_ARCHS[o.arch];
  if (!arch)
    throw new Error(`unknown style architecture "${o.arch}" (choose ${Object.keys(STYLE_ARCHS).join(', ')})`);
  if (o.size % 4 !== 0 || o.size < 32)
    throw new Error(`--size ${o.size}: must be a multiple of 4, at least 32`);
  return arch;
}

export async function trainStyle(o: TrainOptions): Promise<{ manifest: StyleManifest; dir: string }> {
  const arch = checkedArch(o);
  const log = o.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const { tf, backend } = await styleTf(o.backend);
  const stats = { centred: o.gram === 'centred', scales: o.styleScales ?? [1] };
  const paintings = await readStyleScales(o.style, o.styleSize, stats);
  const styleImg = paintings[stats.scales.indexOf(1)] ?? (paintings[0] as RgbImage);
  const content = await loadContent(o.content, Math.round(o.size * 1.15), {
    maxImages: o.maxContentImages,
    log,
  });
  log(
    `style train "${o.name}": ${arch.channels.join('/')} ch, ${paramCount(arch)} parameters, loss net ${o.lossNet}, ${content.length} content images, backend ${backend}`,
  );
  const dir = join(o.outRoot, o.name);
  const net = createLossNet(tf, o.lossNet);
  const targets = styleTargets(tf, net, paintings, stats);
  const rng = new Rng(o.seed);
  const batchData = new Float32Array(o.batch * o.size * o.size * 3);
  const nextBatch = () => {
    for (let b = 0; b < o.batch; b++) randomCrop(content, o.size, rng, batchData, b * o.size * o.size * 3);
    return tf.tensor4d(batchData, [o.batch, o.size, o.size, 3]);
  };
  const vars = initVars(tf, o, arch);
  const optimizer = tf.train.adam(o.lr);
  const run: StyleRun = {
    tf,
    o,
    arch,
    net,
    targets,
    vars,
    optimizer,
    nextBatch,
    ckDir: join(dir, 'checkpoint'),
    resumedAt: [],
    contentScale: 0,
  };
  const start = o.resume ? await resume(run) : 0;
  if (start) log(`resumed from step ${start}`);
  if (!run.contentScale) run.contentScale = measureContentScale(run);
  const { recent, seconds } = await trainSteps(run, start);
  const manifest = styleManifest(run, {
    backend,
    start,
    seconds,
    styleImg,
    contentImages: content.length,
    recent,
  });
  await writeStyle(run, dir, manifest);
  tf.dispose(Object.values(vars));
  optimizer.dispose();
  targets.dispose();
  net.dispose();
  log(
    `wrote ${dir} (losses: total ${manifest.losses.total.toFixed(3)}, content ${manifest.losses.content.toFixed(3)}, style ${manifest.losses.style.toFixed(3)}, tv ${manifest.losses.tv.toFixed(4)})`,
  );
  return { manifest, dir };
}

/** The trained variables: seeded initial values, or a stored style's parameters (--init-from). */
function initVars(tf: Tf, o: TrainOptions, arch: StyleNetArch): Record<string, tfTypes.Variable> {
  const init = initParams(tf, arch, o.seed);
  const from = o.initFrom ? loadStyleDir(o.initFrom) : undefined;
  if (from && JSON.stringify(from.manifest.arch) !== JSON.stringify(arch))
    throw new Error(`--init-from ${o.initFrom}: its architecture is not "${o.arch}"`);
  const vars: Record<string, tfTypes.Variable> = {};
  for (const { name, shape } of paramShapes(arch)) {
    const stored = from?.params[name];
    const value = stored ? tf.tensor(stored, shape, 'float32') : (init[name] as tfTypes.Tensor);
    vars[name] = tf.variable(value, true, `style/${name}`);
    if (stored) value.dispose();
  }
  tf.dispose(Object.values(init));
  return vars;
}

/** Loads the checkpoint's parameters and Adam's moments into the run; the step it was taken at. */
async function resume(run: StyleRun): Promise<number> {
  const { tf, ckDir, vars } = run;
  const ck = readCheckpoint(tf, ckDir);
  if (!ck) throw new Error(`--resume: no checkpoint in ${ckDir}`);
  for (const [name, v] of Object.entries(vars)) {
    const t = ck.tensors.get(`style/${name}`);
    if (!t || t.shape.join() !== v.shape.join())
      throw new Error(
        `--resume: checkpoint in ${ckDir} does not match architecture "${run.o.arch}" (${name})`,
      );
    v.assign(t);
  }
  const paramNames = new Set(Object.keys(vars).map((k) => `style/${k}`));
  const opt = ck.state.names.filter((n) => !paramNames.has(n));
  if (opt.length)
    await run.optimizer.setWeights(
      opt.map((name) => ({ name, tensor: ck.tensors.get(name) as tfTypes.Tensor })),
    );
  const start = ck.state.step;
  run.resumedAt.push(...ck.state.resumedAt, start);
  run.contentScale = ck.state.contentScale;
  tf.dispose([...ck.tensors.values()]);
  return start;
}

/** 1 / the mean square of the content layer's activations on one batch (the content cost's scale). */
function measureContentScale(run: StyleRun): number {
  const { tf, net } = run;
  return tf.tidy(() => {
    const x = run.nextBatch();
    const f = net.features(x)[net.contentLayer] as T4;
    return 1 / Math.max(tf.mean(tf.square(f)).dataSync()[0] as number, 1e-12);
  });
}

async function saveCheckpoint(run: StyleRun, step: number): Promise<void> {
  const { tf, vars } = run;
  const optW = await run.optimizer.getWeights();
  writeCheckpoint(
    run.ckDir,
    step,
    [...Object.entries(vars).map(([k, v]) => ({ name: `style/${k}`, tensor: v as tfTypes.Tensor })), ...optW],
    { resumedAt: run.resumedAt, contentScale: run.contentScale },
  );
  // getWeights() makes a new scalar for the iteration count; the moments are the optimizer's own
  tf.dispose(optW.filter((w) => w.name === 'iter').map((w) => w.tensor));
}

/** Steps from `start` + 1 to o.steps, checkpointing on the way and at the end; the last 50 losses. */
async function trainSteps(run: StyleRun, start: number): Promise<{ recent: StepLosses[]; seconds: number }> {
  const { o } = run;
  const bar = o.quiet ? undefined : progress(`style ${o.name}`, o.steps, { startStep: start });
  const recent: StepLosses[] = [];
  const t0 = performance.now();
  for (let step = start + 1; step <= o.steps; step++) {
    const l = trainStep(run);
    if (!Number.isFinite(l.total))
      throw new Error(`style train: the loss became ${l.total} at step ${step}; lower --lr`);
    recent.push(l);
    if (recent.length > 50) recent.shift();
    if (o.preview && (step % o.preview.every === 0 || step === o.steps)) previewStep(run, step);
    await o.onStep?.(step, l);
    bar?.tick(step, { loss: l.total, content: l.content, style: l.style, tv: l.tv });
    if (step % o.checkpointEvery === 0 && step < o.steps) await saveCheckpoint(run, step);
  }
  await saveCheckpoint(run, o.steps);
  const seconds = (performance.now() - t0) / 1000;
  bar?.done();
  return { recent, seconds };
}

/** The net's current output on the preview image, handed to the preview callback. */
function previewStep(run: StyleRun, step: number): void {
  const { tf, o } = run;
  const p = o.preview;
  if (!p) return;
  const { width, height, pixels } = p.image;
  const out = tf.tidy(() => {
    const x = tf.tensor4d(Float32Array.from(pixels), [1, height, width, 3]);
    return forward(tf, run.arch, run.vars, x).dataSync() as Float32Array;
  });
  p.onPreview(
    step,
    Uint8Array.from(out, (v) => (v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v))),
  );
}

/** A crop of the batch shifted by TEMPORAL_SHIFT with fresh camera noise (the temporal term's copy). */
function shiftedCopy(tf: Tf, x: T4): T4 {
  return tf.tidy(() => {
    const [b, h, w] = x.shape;
    const d = TEMPORAL_SHIFT;
    const crop = tf.slice(x, [0, d, d, 0], [b, h - d, w - d, 3]);
    return tf.clipByValue(tf.add(crop, tf.randomNormal(crop.shape, 0, TEMPORAL_NOISE)), 0, 255) as T4;
  });
}

/** One Adam step on a fresh batch: J = alpha content + beta style + gamma TV (+ temporal); the losses. */
function trainStep(run: StyleRun): StepLosses {
  const { tf, o, net, targets, vars } = run;
  const x = run.nextBatch();
  const cTarget = tf.tidy(() => net.features(x)[net.contentLayer] as T4);
  const wT = o.temporal ?? 0;
  const xShifted = wT > 0 ? shiftedCopy(tf, x) : undefined;
  let parts: tfTypes.Scalar[] = [];
  const cost = run.optimizer.minimize(
    () => {
      const out = forward(tf, run.arch, vars, x);
      const f = net.features(out);
      const c = tf.mul(
        contentCost(tf, cTarget, f[net.contentLayer] as T4),
        run.contentScale,
      ) as tfTypes.Scalar;
      const s = styleCost(
        tf,
        targets.grams,
        net.styleLayers.map((l) => f[l] as T4),
        targets.layerWeights,
        targets.centred,
      );
      const tv = tvCost(tf, out);
      const t = xShifted
        ? temporalCost(tf, out, forward(tf, run.arch, vars, xShifted), TEMPORAL_SHIFT)
        : tf.scalar(0);
      parts = [tf.keep(c), tf.keep(s), tf.keep(tv), tf.keep(t)];
      const j = tf.add(tf.add(tf.mul(c, o.alpha), tf.mul(s, o.beta)), tf.mul(tv, o.gamma));
      return tf.add(j, tf.mul(t, wT)) as tfTypes.Scalar;
    },
    true,
    Object.values(vars),
  );
  const total = (cost as tfTypes.Scalar).dataSync()[0] as number;
  const [c, s, tv, t] = parts.map((p) => p.dataSync()[0] as number) as [number, number, number, number];
  tf.dispose([x, cTarget, cost as tfTypes.Tensor, ...parts, ...(xShifted ? [xShifted] : [])]);
  return { total, content: c, style: s, tv, ...(wT > 0 ? { temporal: t } : {}) };
}

/** The style's manifest: architecture, recipe, the painting's identity, the last losses, timings. */
function styleManifest(
  run: StyleRun,
  r: {
    backend: string;
    start: number;
    seconds: number;
    styleImg: RgbImage;
    contentImages: number;
    recent: StepLosses[];
  },
): StyleManifest {
  const { o, arch, resumedAt } = run;
  const avg = (k: keyof StepLosses) =>
    r.recent.reduce((a, x) => a + (x[k] ?? 0), 0) / Math.max(1, r.recent.length);
  const styleBytes = readFileSync(o.style);
  return {
    name: o.name,
    archName: o.arch,
    arch,
    lossNet: o.lossNet,
    painting:
      o.painting ??
      basename(o.style)
        .replace(/\.[^.]+$/, '')
        .replace(/_/g, ' '),
    recipe: {
      alpha: o.alpha,
      beta: o.beta,
      gamma: o.gamma,
      ...(o.temporal ? { temporal: o.temporal } : {}),
      ...(o.gram === 'centred' ? { gram: o.gram } : {}),
      ...(o.styleScales && o.styleScales.join() !== '1' ? { styleScales: o.styleScales } : {}),
      ...(o.initFrom ? { initFrom: o.initFrom.replace(/^.*\/models\/styles\//, 'models/styles/') } : {}),
      layerWeights: run.targets.layerWeights,
      steps: o.steps,
      batch: o.batch,
      size: o.size,
      styleSize: o.styleSize,
      lr: o.lr,
      seed: o.seed,
      content: o.content.map((p) => p.replace(/^.*\/shared\/data\//, 'shared/data/')),
      contentImages: r.contentImages,
      styleImage: {
        file: basename(o.style),
        sha256: createHash('sha256').update(styleBytes).digest('hex'),
        width: r.styleImg.width,
        height: r.styleImg.height,
      },
    },
    losses: { total: avg('total'), content: avg('content'), style: avg('style'), tv: avg('tv') },
    training: {
      backend: r.backend,
      msPerStep: o.steps > r.start ? (r.seconds * 1000) / (o.steps - r.start) : 0,
      seconds: r.seconds,
      finishedAt: new Date().toISOString(),
      ...(resumedAt.length ? { resumedAt } : {}),
    },
    params: paramCount(arch),
  };
}

/** Writes the trained parameters, the manifest and the painting's thumbnail to `dir`. */
async function writeStyle(run: StyleRun, dir: string, manifest: StyleManifest): Promise<void> {
  const params: Record<string, Float32Array> = {};
  for (const [k, v] of Object.entries(run.vars)) params[k] = (v.dataSync() as Float32Array).slice();
  const thumb = await sharp(run.o.style)
    .rotate()
    .resize({ width: 256, height: 256, fit: 'inside' })
    .jpeg({ quality: 85 })
    .toBuffer();
  saveStyle(dir, manifest, params, { 'style.jpg': thumb });
}

export { STYLES_DIR };
