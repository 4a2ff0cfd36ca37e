/**
 * The style task (worker side): styles are loaded on first use. With engine auto or onnx, a style's
 * graph (model.json) is converted to ONNX (src/inference/onnx) and run by ONNX Runtime when its
 * output matches tfjs within one 8-bit level on a probe frame (and, for auto, when it is faster);
 * otherwise tfjs runs it and the host is told why (an event). The frame is read from its shared
 * buffer; the blend with the original at each requested strength is made here too, so the main
 * thread gets finished pictures.
 */
import { join } from 'node:path';
import type * as tfTypes from '@tensorflow/tfjs-core';
import type { LoadedModel } from '../inference/contract.js';
import { convertFile } from '../inference/onnx/cache.js';
import { TOLERANCE } from '../inference/onnx/verify.js';
import { type LoadContext, registerTask } from '../inference/task.js';
import type { RgbImage } from '../util/rgb.js';
import { STYLE_OUTPUT } from './graph.js';
import type { StyleEngineReport, StyleRequest } from './host.js';
import { blend, StyleRunner } from './runner.js';
import { loadStyleDir, type StoredStyle } from './store.js';

interface StyleState {
  tf: typeof tfTypes;
  ctx: LoadContext;
  /** Per style folder: the stored style, and the ONNX model when ORT runs it. */
  styles: Map<string, Promise<{ style: StoredStyle; onnx?: LoadedModel }>>;
  /** One runner per (style, smoothing key): smoothing keeps the previous frame of one stream. */
  runners: Map<string, StyleRunner>;
}

/** A probe frame (gradients and edges) for the equivalence check and the timing. */
function probe(w: number, h: number): Float32Array {
  const px = new Float32Array(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      px[i] = (x * 255) / w;
      px[i + 1] = (y * 255) / h;
      px[i + 2] = ((x >> 3) + (y >> 3)) % 2 ? 220 : 30;
    }
  return px;
}

async function timeIt(f: () => Promise<unknown> | unknown, n = 3): Promise<number> {
  await f();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await f();
  return (performance.now() - t0) / n;
}

/** Runs the style on the probe with both engines: largest difference and ms per 256x144 frame. */
async function compare(t: typeof tfTypes, style: StoredStyle, model: LoadedModel, report: StyleEngineReport) {
  const [w, h] = [96, 64];
  const input = { data: probe(w, h), shape: [1, h, w, 3] };
  const runner = new StyleRunner(t, style);
  try {
    const x = t.tensor4d(input.data, [1, h, w, 3]);
    const want = runner.net(x);
    const ref = want.dataSync() as Float32Array;
    t.dispose([x, want]);
    const [got] = await model.run(input);
    let maxAbs = got && got.data.length === ref.length ? 0 : Number.POSITIVE_INFINITY;
    for (let i = 0; i < ref.length && got; i++) {
      const d = Math.abs((ref[i] as number) - (got.data[i] as number));
      maxAbs = Number.isNaN(d) ? Number.POSITIVE_INFINITY : Math.max(maxAbs, d);
    }
    report.maxAbs255 = maxAbs;
    const big = { data: probe(256, 144), shape: [1, 144, 256, 3] };
    const xb = t.tensor4d(big.data, [1, 144, 256, 3]);
    report.timings = {
      tfjs: await timeIt(() => runner.net(xb).dispose()),
      onnx: await timeIt(() => model.run(big)),
    };
    xb.dispose();
  } finally {
    runner.dispose();
  }
}

/** Chooses the engine of one style: ONNX Runtime when converted, equivalent and (auto) faster. */
async function load(s: StyleState, dir: string): Promise<{ style: StoredStyle; onnx?: LoadedModel }> {
  const style = loadStyleDir(dir);
  // styles follow inference.models.style.engine, else inference.engine
  const choice = s.ctx.engineFor('style');
  const report: StyleEngineReport = { style: style.manifest.name, engine: 'tfjs', requested: choice };
  if (choice === 'tfjs' || !s.ctx.onnx) {
    s.ctx.emit(report);
    return { style };
  }
  try {
    const engine = await s.ctx.onnx();
    const name = `style-${style.manifest.name}`;
    const conv = convertFile(join(dir, 'model.json'), { outputs: [STYLE_OUTPUT], name });
    const model = await engine.loadBytes(name, conv.bytes, [STYLE_OUTPUT]);
    await compare(s.tf, style, model, report);
    const maxAbs = report.maxAbs255 ?? Number.POSITIVE_INFINITY;
    if (maxAbs > TOLERANCE.maxAbs255) {
      report.reason = `ONNX output differs from tfjs by ${maxAbs.toFixed(3)} (tolerance ${TOLERANCE.maxAbs255} on 0..255)`;
    } else if (choice === 'auto' && report.timings && report.timings.onnx >= report.timings.tfjs) {
      report.reason = 'tfjs was faster in the start-up timing';
    } else {
      report.engine = 'onnx';
      report.backend = engine.backend;
      s.ctx.emit(report);
      return { style, onnx: model };
    }
    model.dispose();
  } catch (e) {
    report.reason = (e as Error).message;
    report.fallback = true;
  }
  if (report.reason && choice === 'onnx') report.fallback = true;
  s.ctx.emit(report);
  return { style };
}

async function stylize(s: StyleState, frame: RgbImage, req: StyleRequest): Promise<Uint8Array> {
  let loaded = s.styles.get(req.dir);
  if (!loaded) {
    loaded = load(s, req.dir);
    s.styles.set(req.dir, loaded); // a failed load stays failed: later frames fail at once
  }
  const { style, onnx } = await loaded;
  const key = `${req.dir}|${req.smoothingKey ?? ''}`;
  let r = s.runners.get(key);
  if (!r) {
    r = new StyleRunner(s.tf, style);
    s.runners.set(key, r);
  }
  const opts = { smoothing: req.smoothing ?? 0 };
  return onnx
    ? r.runWith(
        async (x) => (await onnx.run(x))[0] as { data: Float32Array; shape: number[] },
        frame.pixels,
        frame.width,
        frame.height,
        opts,
      )
    : r.run(frame.pixels, frame.width, frame.height, opts);
}

registerTask<'style', StyleState>({
  kind: 'style',
  async load(_spec, ctx) {
    const tf = (await import('@tensorflow/tfjs-core')) as typeof tfTypes;
    return { tf, ctx, styles: new Map(), runners: new Map() };
  },
  async run(s, frames, req, ctx) {
    const frame = frames[0];
    if (!frame) throw new Error('style: no frame in the request');
    const styled = await stylize(s, frame, req);
    // one picture per strength; the stylised one itself at strength 1 (no copy)
    const out = (req.strengths ?? [1]).map((k) => blend(frame.pixels, styled, k));
    ctx.transfer(...new Set(out.map((p) => p.buffer as ArrayBuffer)));
    return { pixels: out };
  },
  dispose(s) {
    for (const r of s.runners.values()) r.dispose();
    s.runners.clear();
  },
});
