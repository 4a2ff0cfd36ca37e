import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as tfTypes from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { styleTf } from '../../src/style/backend.js';
import { readStyleImage } from '../../src/style/data.js';
import { styleGraph, STYLE_INPUT, STYLE_OUTPUT } from '../../src/style/graph.js';
import { forward, forwardNet, initParams, paramCount, STYLE_ARCHS } from '../../src/style/net.js';
import { StyleRunner } from '../../src/style/runner.js';
import { loadStyleDir, saveStyle, type StyleManifest } from '../../src/style/store.js';
import { trainStyle } from '../../src/style/train.js';
import { samplePhoto } from '../helpers/images.js';

let tf: typeof tfTypes;
const tmp = mkdtempSync(join(tmpdir(), 'vigil-style-'));

beforeAll(async () => {
  ({ tf } = await styleTf('wasm'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const data = (p: Record<string, tfTypes.Tensor>) =>
  Object.fromEntries(Object.entries(p).map(([k, v]) => [k, v.dataSync() as Float32Array]));

/** A striped "painting" (sharp-generated, so the test needs no data set). */
async function stripes(file: string, w = 160, h = 120): Promise<void> {
  const px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      const band = Math.floor((x + y) / 8) % 3;
      px[i] = band === 0 ? 230 : 30;
      px[i + 1] = band === 1 ? 200 : 40;
      px[i + 2] = band === 2 ? 220 : 60;
    }
  await sharp(px, { raw: { width: w, height: h, channels: 3 } })
    .png()
    .toFile(file);
}

describe('style network', () => {
  it('maps an HxWx3 frame to HxWx3 in 0..255, for every size', () => {
    for (const [name, arch] of Object.entries(STYLE_ARCHS)) {
      const p = initParams(tf, arch, 3);
      const y = tf.tidy(() =>
        forward(tf, arch, p, tf.randomUniform([2, 36, 52, 3], 0, 255) as tfTypes.Tensor4D),
      );
      expect(y.shape, name).toEqual([2, 36, 52, 3]);
      const v = y.dataSync();
      expect(Math.min(...v), name).toBeGreaterThanOrEqual(0);
      expect(Math.max(...v), name).toBeLessThanOrEqual(255);
      expect(paramCount(arch)).toBeGreaterThan(1000);
      tf.dispose([y, ...Object.values(p)]);
    }
    expect(() =>
      forward(tf, STYLE_ARCHS.small as never, {}, tf.zeros([1, 30, 30, 3]) as tfTypes.Tensor4D),
    ).toThrow(/multiple of 4/);
  });

  it('the exported tfjs graph model computes the same image as the training code', async () => {
    const { loadGraphModel } = await import('@tensorflow/tfjs-converter');
    for (const name of ['small', 'small-full']) {
      const arch = STYLE_ARCHS[name] as (typeof STYLE_ARCHS)['small'];
      const p = initParams(tf, arch, 5);
      const { json, weights } = styleGraph(arch, data(p));
      const model = await loadGraphModel({
        load: async () => ({
          modelTopology: json.modelTopology,
          weightSpecs: json.weightsManifest[0]?.weights as never,
          weightData: weights.buffer.slice(
            weights.byteOffset,
            weights.byteOffset + weights.length,
          ) as ArrayBuffer,
          format: json.format,
        }),
      });
      const x = tf.randomUniform([1, 40, 56, 3], 0, 255) as tfTypes.Tensor4D;
      const want = tf.tidy(() => forwardNet(tf, arch, p, x));
      const got = model.execute({ [STYLE_INPUT]: x }, STYLE_OUTPUT) as tfTypes.Tensor;
      expect(got.shape, name).toEqual(want.shape);
      const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(got, want))).dataSync()[0] as number);
      expect(diff, name).toBeLessThan(0.01);
      tf.dispose([x, want, got, ...Object.values(p)]);
      model.dispose();
    }
  });

  it('saved styles load back, and corrupt or missing files give errors naming them', () => {
    const arch = STYLE_ARCHS.tiny as (typeof STYLE_ARCHS)['tiny'];
    const p = initParams(tf, arch, 2);
    const params = data(p);
    const manifest = { name: 'unit', archName: 'tiny', arch, params: paramCount(arch) } as StyleManifest;
    const dir = join(tmp, 'unit');
    saveStyle(dir, manifest, params);
    const back = loadStyleDir(dir);
    expect(Object.keys(back.params).sort()).toEqual(Object.keys(params).sort());
    expect(Array.from(back.params['down1/w'] ?? [])).toEqual(Array.from(params['down1/w'] ?? []));

    const w = readFileSync(join(dir, 'weights.bin'));
    writeFileSync(join(dir, 'weights.bin'), w.subarray(0, 100));
    expect(() => loadStyleDir(dir)).toThrow(/truncated/);
    const bad = Buffer.from(w);
    bad.writeFloatLE(Number.NaN, 0);
    writeFileSync(join(dir, 'weights.bin'), bad);
    expect(() => loadStyleDir(dir)).toThrow(/non-finite/);
    rmSync(join(dir, 'weights.bin'));
    expect(() => loadStyleDir(dir)).toThrow(/weights\.bin is missing/);
    writeFileSync(join(dir, 'model.json'), '{not json');
    expect(() => loadStyleDir(dir)).toThrow(/model\.json is not valid JSON/);
    tf.dispose(Object.values(p));
  });

  it('refuses style images that are not images, too small or huge', async () => {
    const txt = join(tmp, 'not-image.jpg');
    writeFileSync(txt, 'hello');
    await expect(readStyleImage(txt)).rejects.toThrow(/not a readable image/);
    // the message names which image: apply and optimize read content images through it too
    await expect(readStyleImage(txt)).rejects.toThrow(/^style image .*not-image\.jpg/);
    await expect(readStyleImage(txt, 640, 'content image')).rejects.toThrow(
      /^content image .*not a readable/,
    );
    const small = join(tmp, 'small.png');
    await sharp({ create: { width: 40, height: 90, channels: 3, background: '#808080' } })
      .png()
      .toFile(small);
    await expect(readStyleImage(small)).rejects.toThrow(/too small \(40x90\)/);
    const huge = join(tmp, 'huge.png');
    await sharp({ create: { width: 9000, height: 5000, channels: 3, background: '#808080' } })
      .png()
      .toFile(huge);
    await expect(readStyleImage(huge)).rejects.toThrow(/too large/);
  });
});

describe('style training', () => {
  // the first test trains; the CLI and resume tests use what it wrote (tests run in order)
  const totals: number[] = [];
  const painting = () => join(tmp, 'stripes.png');
  let dir = '';
  const options = () => ({
    name: 'unit-train',
    style: painting(),
    content: [samplePhoto(1), samplePhoto(2), samplePhoto(3)],
    arch: 'tiny',
    lossNet: 'mobilenet' as const,
    steps: 30,
    batch: 1,
    size: 64,
    styleSize: 128,
    lr: 0.02,
    alpha: 1,
    beta: 10,
    gamma: 1,
    seed: 7,
    outRoot: tmp,
    checkpointEvery: 10,
    resume: false,
    backend: 'wasm' as const,
    quiet: true,
    log: () => {},
    onStep: (_s: number, l: { total: number }) => totals.push(l.total),
  });

  it('a few steps on wasm lower the loss and write a loadable style, leaking no tensors', async () => {
    await stripes(painting());
    const before = tf.memory().numTensors;
    const trained = await trainStyle(options());
    const { manifest } = trained;
    dir = trained.dir;
    expect(tf.memory().numTensors).toBeLessThanOrEqual(before + 2);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(totals.slice(-5))).toBeLessThan(mean(totals.slice(0, 5)) * 0.8);
    expect(manifest.recipe.steps).toBe(30);
    expect(manifest.losses.style).toBeGreaterThan(0);

    const style = loadStyleDir(dir);
    const runner = new StyleRunner(tf, style);
    const frame = new Uint8Array(45 * 61 * 3).map((_, i) => (i * 7) % 256);
    const out = runner.run(frame, 61, 45);
    expect(out.length).toBe(frame.length);
    expect(out.some((v, i) => v !== frame[i])).toBe(true);
    runner.dispose();
  }, 120_000);

  it('the shipped recipe (covariance Grams of the painting at two scales, temporal term) trains and is recorded', async () => {
    const before = tf.memory().numTensors;
    const seen: number[] = [];
    const { manifest } = await trainStyle({
      ...options(),
      name: 'unit-centred',
      steps: 6,
      gram: 'centred',
      styleScales: [0.5, 1],
      temporal: 100,
      onStep: (_s, l) => seen.push(l.style, l.temporal ?? Number.NaN),
    });
    expect(tf.memory().numTensors).toBeLessThanOrEqual(before + 2);
    expect(seen.every((v) => Number.isFinite(v) && v >= 0)).toBe(true);
    expect(manifest.recipe.gram).toBe('centred');
    expect(manifest.recipe.styleScales).toEqual([0.5, 1]);
    expect(manifest.recipe.temporal).toBe(100);
  }, 120_000);

  it('vigil style apply: the trained style on a photo, through the CLI; an unknown style exits 2', async () => {
    const applied = join(tmp, 'applied.jpg');
    const cli = join(process.cwd(), 'dist', 'cli.js');
    const res = spawnSync(
      process.execPath,
      [
        cli,
        'style',
        'apply',
        '--style',
        dir,
        '--out',
        applied,
        '--size',
        '200',
        '--backend',
        'wasm',
        samplePhoto(1),
      ],
      { encoding: 'utf8' },
    );
    expect(res.status, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/wrote .*applied\.jpg \(\d+x\d+/);
    const meta = await sharp(applied).metadata();
    expect(Math.max(meta.width ?? 0, meta.height ?? 0)).toBe(200);
    const bad = spawnSync(
      process.execPath,
      [cli, 'style', 'apply', '--style', 'no-such-style', '--out', applied, samplePhoto(1)],
      { encoding: 'utf8' },
    );
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/unknown style "no-such-style"/);
  }, 60_000);

  it('fine-tunes a stored style with the temporal term, which training lowers', async () => {
    const temporal: number[] = [];
    const r = await trainStyle({
      ...options(),
      name: 'unit-temporal',
      initFrom: dir,
      temporal: 200,
      steps: 16,
      checkpointEvery: 100,
      onStep: (s, l) => {
        temporal.push(l.temporal ?? Number.NaN);
      },
    });
    expect(temporal.every((t) => t > 0)).toBe(true);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(temporal.slice(-4))).toBeLessThan(mean(temporal.slice(0, 4)));
    expect(r.manifest.recipe.temporal).toBe(200);
    expect(r.manifest.recipe.initFrom).toBe(dir);
    await expect(
      trainStyle({ ...options(), name: 'unit-bad-init', arch: 'small', initFrom: dir }),
    ).rejects.toThrow(/--init-from .*architecture is not "small"/);
  }, 120_000);

  it('resumes from the checkpoint at the step it was taken', async () => {
    const resumed: number[] = [];
    const r = await trainStyle({ ...options(), steps: 34, resume: true, onStep: (s) => resumed.push(s) });
    expect(resumed).toEqual([31, 32, 33, 34]);
    expect(r.manifest.training.resumedAt).toEqual([30]);
  }, 120_000);

  it('names the problem with bad options', async () => {
    const base = {
      name: 'x',
      style: 'nope.jpg',
      content: [],
      arch: 'tiny',
      lossNet: 'mobilenet' as const,
      steps: 1,
      batch: 1,
      size: 64,
      styleSize: 64,
      lr: 0.01,
      alpha: 1,
      beta: 1,
      gamma: 1,
      seed: 1,
      outRoot: tmp,
      checkpointEvery: 1,
      resume: false,
      backend: 'wasm' as const,
      quiet: true,
    };
    await expect(trainStyle({ ...base, name: 'Bad Name' })).rejects.toThrow(/style name "Bad Name"/);
    await expect(trainStyle({ ...base, arch: 'huge' })).rejects.toThrow(/unknown style architecture "huge"/);
    await expect(trainStyle({ ...base, size: 30 })).rejects.toThrow(/multiple of 4/);
  });
});
