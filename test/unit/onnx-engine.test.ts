import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import type { LoadedModel } from '../../src/inference/contract.js';
import { defaultThreads } from '../../src/inference/onnx/engine.js';
import { chooseEngine, describeReport } from '../../src/inference/onnx/select.js';
import { engineSettings } from '../../src/inference/onnx/settings.js';
import { compareDetections } from '../../src/faces/detect/compare.js';
import { compareEmbeddings, compareImages, cosine } from '../../src/inference/onnx/verify.js';
import type { ModelEngineReport } from '../../src/inference/protocol.js';
import { VigilMetrics } from '../../src/metrics/metrics.js';

const stream = [{ id: 'cam', lavfi: 'testsrc2' }];

describe('engine configuration', () => {
  it('defaults: auto everywhere, cpu provider, threads from the cores, cache in the data directory', () => {
    const c = validateConfig({ streams: stream, dataDir: '/var/vigil' });
    expect(c.inference.engine).toBe('auto');
    expect(c.inference.onnx).toEqual({ intraOpThreads: 0, executionProviders: ['cpu'] });
    const s = engineSettings(c.inference, c.dataDir);
    expect(s).toEqual({
      engine: 'auto',
      models: {},
      onnx: { intraOpThreads: 0, executionProviders: ['cpu'], cacheDir: '/var/vigil/onnx' },
    });
  });

  it('per-model overrides and GPU providers', () => {
    const c = validateConfig({
      streams: stream,
      inference: {
        engine: 'onnx',
        models: { faceres: { engine: 'tfjs' } },
        onnx: { intraOpThreads: 1, executionProviders: ['tensorrt', 'cuda'], cacheDir: '/tmp/x' },
      },
    });
    const s = engineSettings(c.inference, c.dataDir);
    expect(s.models).toEqual({ faceres: 'tfjs' });
    expect(s.onnx).toEqual({
      intraOpThreads: 1,
      executionProviders: ['tensorrt', 'cuda'],
      cacheDir: '/tmp/x',
    });
  });

  it('bad values are named by their key', () => {
    expect(() => validateConfig({ streams: stream, inference: { engine: 'tensorrt' } })).toThrow(
      /inference\.engine/,
    );
    expect(() =>
      validateConfig({ streams: stream, inference: { onnx: { executionProviders: ['rocm'] } } }),
    ).toThrow(/inference\.onnx\.executionProviders\[0\]: Invalid option/);
    expect(() =>
      validateConfig({ streams: stream, inference: { models: { faceres: { engin: 'onnx' } } } }),
    ).toThrow(/inference\.models\.faceres/);
  });

  it('intra-op threads: configured, else the cores shared by the workers (at least one)', () => {
    expect(defaultThreads(3, 1, 2)).toBe(3);
    expect(defaultThreads(0, 1, 2)).toBe(2);
    expect(defaultThreads(0, 2, 2)).toBe(1);
    expect(defaultThreads(0, 4, 2)).toBe(1);
  });
});

describe('equivalence measures', () => {
  it('cosine, boxes, images', () => {
    expect(cosine([1, 0], [1, 0])).toBeCloseTo(1, 12);
    expect(compareEmbeddings(Float32Array.of(1, 0, 0, 1), Float32Array.of(1, 0.02, 0, 1), 2, 'x').ok).toBe(
      false,
    );
    const d = (box: [number, number, number, number]) => ({ box, score: 0.9, landmarks: [] });
    expect(compareDetections([[d([0, 0, 10, 10])]], [[d([0.5, 0, 10, 10.9])]], 'f').ok).toBe(true);
    const moved = compareDetections([[d([0, 0, 10, 10])]], [[d([1.5, 0, 10, 10])]], 'f');
    expect(moved).toMatchObject({ ok: false, value: 1.5 });
    expect(compareDetections([[d([0, 0, 10, 10])]], [[]], 'f').detail).toMatch(
      /1 boxes with tfjs, 0 with ONNX/,
    );
    expect(compareImages(Float32Array.of(0, 0.5), Float32Array.of(0.002, 0.5), 255, 'i').ok).toBe(true);
    expect(compareImages(Float32Array.of(0, 0.5), Float32Array.of(0.005, 0.5), 255, 'i').ok).toBe(false);
  });
});

describe('engine choice', () => {
  const model = (name: string, ms: number): LoadedModel & { disposed: boolean } => ({
    name,
    disposed: false,
    async run() {
      const t = performance.now();
      while (performance.now() - t < ms);
      return [{ data: new Float32Array(1), shape: [1] }];
    },
    dispose() {
      this.disposed = true;
    },
  });
  const m = {
    name: 'det',
    package: 'vigil',
    path: 'x',
    format: 'tfjs-graph' as const,
    input: [4, 4, 3] as [number, number, number],
    outputs: ['y'],
  };
  const tfjs = (ms: number) => ({
    engine: 'tfjs',
    backend: 'wasm',
    load: async () => model('tf', ms),
    matrix: () => {
      throw new Error('unused');
    },
    memory: () => ({ tensors: 0, bytes: 0 }),
  });
  const onnx = (ms: number, fail?: string) => async () =>
    ({
      engine: 'onnx',
      backend: 'cpu',
      version: 'test',
      threads: 2,
      lastLoad: { ms: 5, cached: false, path: 'p' },
      load: async () => {
        if (fail) throw new Error(fail);
        return model('ox', ms);
      },
      loadBytes: async () => model('ox', ms),
      matrix: () => {
        throw new Error('unused');
      },
      memory: () => ({ tensors: 0, bytes: 0 }),
    }) as never;
  const ok = async () => ({ measure: 'cosine' as const, value: 1, tolerance: 0.9999, ok: true, inputs: 'x' });
  const base = {
    manifest: m,
    task: 'detect' as const,
    check: ok,
    timingInput: { data: new Float32Array(48), shape: [1, 4, 4, 3] },
    timingRuns: 2,
  };

  it('auto keeps the faster engine and reports both timings', async () => {
    // 1 ms against 40 ms (median of 5): far enough apart that a loaded CI machine cannot swap them
    const a = await chooseEngine({
      ...base,
      requested: 'auto',
      timingRuns: 5,
      tfjs: tfjs(40),
      onnx: onnx(1),
    });
    expect(a.report).toMatchObject({ engine: 'onnx', backend: 'cpu', requested: 'auto', threads: 2 });
    expect(a.report.timings?.onnx).toBeLessThan(a.report.timings?.tfjs as number);
    const b = await chooseEngine({
      ...base,
      requested: 'auto',
      timingRuns: 5,
      tfjs: tfjs(1),
      onnx: onnx(40),
    });
    expect(b.report).toMatchObject({ engine: 'tfjs', backend: 'wasm' });
    expect(b.report.fallback).toBeUndefined();
  });

  it('a model that misses its tolerance is not used', async () => {
    const r = await chooseEngine({
      ...base,
      requested: 'onnx',
      tfjs: tfjs(1),
      onnx: onnx(1),
      check: async () => ({ measure: 'box_px', value: 3, tolerance: 1, ok: false, inputs: 'x' }),
    });
    expect(r.report.engine).toBe('tfjs');
    expect(r.report.fallback?.reason).toBe('not_equivalent');
    expect(describeReport(r.report)).toMatch(
      /box_px 3.000 \(<= 1 FAILED\).*ONNX not used \(not_equivalent\)/,
    );
  });

  it('ONNX Runtime unavailable: tfjs, with the reason', async () => {
    const r = await chooseEngine({
      ...base,
      requested: 'auto',
      tfjs: tfjs(1),
      onnx: async () => {
        throw new Error(
          'onnxruntime-node is not usable: libonnxruntime.so.1: cannot open shared object file',
        );
      },
    });
    expect(r.report).toMatchObject({ engine: 'tfjs', fallback: { reason: 'unavailable' } });
  });

  it('a resolved choice loads without checks or timing', async () => {
    const r = await chooseEngine({
      ...base,
      requested: 'auto',
      resolved: 'onnx',
      tfjs: tfjs(1),
      onnx: onnx(1),
      check: async () => {
        throw new Error('no check expected');
      },
    });
    expect(r.report).toMatchObject({ engine: 'onnx', requested: 'auto' });
    expect(r.report.timings).toBeUndefined();
  });

  it('a decision is remembered: the next start skips the tfjs reference, the check and the timing', async () => {
    const saved = new Map<string, ModelEngineReport>();
    const decisions = {
      get: (k: string) => saved.get(k),
      set: (k: string, r: ModelEngineReport) => void saved.set(k, r),
    };
    const first = await chooseEngine({
      ...base,
      requested: 'auto',
      timingRuns: 5,
      tfjs: tfjs(40),
      onnx: onnx(1),
      decisions,
    });
    expect(first.report.engine).toBe('onnx');
    expect(saved.size).toBe(1);
    const again = await chooseEngine({
      ...base,
      requested: 'auto',
      tfjs: tfjs(40),
      onnx: onnx(1),
      decisions,
      check: async () => {
        throw new Error('no check expected');
      },
    });
    expect(again.report).toMatchObject({
      engine: 'onnx',
      decidedBefore: true,
      timings: first.report.timings,
    });
    expect(describeReport(again.report)).toMatch(/as measured at an earlier start/);
  });

  it('metrics: engine per model, timings, equivalence and fallbacks', async () => {
    const metrics = new VigilMetrics({ defaultMetrics: false });
    const reports: ModelEngineReport[] = [
      {
        model: 'blazeface',
        task: 'detect',
        requested: 'auto',
        engine: 'onnx',
        backend: 'cpu',
        timings: { onnx: 6, tfjs: 21 },
        equivalence: { measure: 'box_px', value: 0, tolerance: 1, ok: true, inputs: 'x' },
      },
      {
        model: 'faceres',
        task: 'embed',
        requested: 'onnx',
        engine: 'tfjs',
        backend: 'wasm',
        fallback: { reason: 'conversion', message: 'unsupported op "X" at node "y"' },
      },
    ];
    metrics.recordEngines(reports);
    const text = await metrics.registry.metrics();
    expect(text).toContain(
      'vigil_inference_model_engine_info{model="blazeface",engine="onnx",backend="cpu"} 1',
    );
    expect(text).toContain('vigil_inference_engine_startup_seconds{model="blazeface",engine="tfjs"} 0.021');
    expect(text).toContain('vigil_inference_onnx_equivalent{model="blazeface"} 1');
    expect(text).toContain('vigil_inference_engine_fallbacks_total{model="faceres"} 1');
  });
});
