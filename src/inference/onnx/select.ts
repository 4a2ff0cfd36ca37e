/**
 * Per-model engine choice in a worker: tfjs, ONNX Runtime, or `auto` (both loaded, checked for
 * equivalence on a real input, timed briefly, the faster kept). A converted model that cannot be
 * built, loaded or that misses its tolerance is never used: the model runs on tfjs and the report
 * says why (logged by the host, exported as a metric).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { basename, join } from 'node:path';
import type { InferenceEngine, LoadedModel, ModelManifest, TensorData } from '../contract.js';
import type { EngineChoice, EngineName, ModelEngineReport } from '../protocol.js';
import type { OnnxEngine } from './engine.js';
import { describeEquivalence, type Equivalence } from './verify.js';

export interface ChooseArgs {
  manifest: ModelManifest;
  task: ModelEngineReport['task'];
  requested: EngineChoice;
  /** Decided earlier (by the first worker): load that engine, no checks, no timing. */
  resolved?: EngineName;
  tfjs: InferenceEngine;
  /** The ORT engine, started on first use (throws if onnxruntime-node is unusable). */
  onnx: () => Promise<OnnxEngine>;
  /** Runs both models on the same real input(s) and compares what they produce. */
  check: (reference: LoadedModel, candidate: LoadedModel) => Promise<Equivalence>;
  /** A batch-1 input for the start-up timing. */
  timingInput: TensorData;
  /** Timed calls per engine (after one warm-up call). */
  timingRuns?: number;
  /**
   * Earlier decisions for the same converted model on this machine (engine, equivalence, timings):
   * a process that finds one skips the tfjs reference, the check and the timing.
   */
  decisions?: DecisionStore;
}

/** Where decisions are remembered (a folder of small JSON files next to the converted models). */
export interface DecisionStore {
  get(key: string): ModelEngineReport | undefined;
  set(key: string, report: ModelEngineReport): void;
}

/** A DecisionStore in `dir` (one file per key, written atomically; unreadable files are ignored). */
export function fileDecisions(dir: string): DecisionStore {
  const file = (key: string) =>
    join(dir, `decision-${createHash('sha256').update(key).digest('hex').slice(0, 24)}.json`);
  return {
    get(key) {
      try {
        const d = JSON.parse(readFileSync(file(key), 'utf8')) as { key: string; report: ModelEngineReport };
        return d.key === key ? d.report : undefined;
      } catch {
        return undefined;
      }
    },
    set(key, report) {
      try {
        mkdirSync(dir, { recursive: true });
        const tmp = `${file(key)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
        writeFileSync(tmp, `${JSON.stringify({ key, report, date: new Date().toISOString() }, null, 2)}\n`);
        renameSync(tmp, file(key));
      } catch {
        // a read-only cache: decide again next time
      }
    },
  };
}

/** Median wall time (ms) of `runs` calls after one warm-up call. */
export async function timeModel(model: LoadedModel, input: TensorData, runs: number): Promise<number> {
  await model.run(input);
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await model.run(input);
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return ms[Math.floor(ms.length / 2)] as number;
}

const round = (ms: number) => Math.round(ms * 100) / 100;

type Chosen = { model: LoadedModel; report: ModelEngineReport };
type ReportBase = Pick<ModelEngineReport, 'model' | 'task' | 'requested'>;
/** Loads the model on tfjs, with the report saying why (`fallback`) and what was measured. */
type OnTfjs = (
  fallback?: ModelEngineReport['fallback'],
  extra?: Partial<ModelEngineReport>,
) => Promise<Chosen>;

/** A converted model loaded on ONNX Runtime, still to be accepted or refused. */
interface Candidate {
  a: ChooseArgs;
  base: ReportBase;
  ort: OnnxEngine;
  model: LoadedModel;
  ortInfo: { convertMs: number; cached: boolean; threads: number };
  /** Identifies the decision for this converted model on this machine (DecisionStore key). */
  key: string;
  onTfjs: OnTfjs;
}

/** Loads `manifest` on the chosen engine; see the module comment. */
export async function chooseEngine(a: ChooseArgs): Promise<Chosen> {
  const base = { model: a.manifest.name, task: a.task, requested: a.requested };
  const onTfjs: OnTfjs = async (fallback, extra = {}) => ({
    model: await a.tfjs.load(a.manifest),
    report: {
      ...base,
      engine: 'tfjs' as const,
      backend: a.tfjs.backend,
      ...extra,
      ...(fallback ? { fallback } : {}),
    },
  });
  const want = a.resolved ?? a.requested;
  if (want === 'tfjs') return onTfjs();
  const loaded = await loadOnOnnx(a, onTfjs);
  if ('report' in loaded) return loaded;
  const { ort, model } = loaded;
  const ortInfo = {
    convertMs: round(ort.lastLoad?.ms ?? 0),
    cached: ort.lastLoad?.cached ?? false,
    threads: ort.threads,
  };
  if (a.resolved === 'onnx')
    return { model, report: { ...base, engine: 'onnx', backend: ort.backend, ...ortInfo } };
  const c: Candidate = { a, base, ort, model, ortInfo, key: decisionKey(a, ort), onTfjs };
  return (await fromEarlierDecision(c)) ?? (await checkAndTime(c));
}

/** Starts ORT and loads the converted model, or falls back to tfjs saying why. */
async function loadOnOnnx(
  a: ChooseArgs,
  onTfjs: OnTfjs,
): Promise<Chosen | { ort: OnnxEngine; model: LoadedModel }> {
  let ort: OnnxEngine;
  try {
    ort = await a.onnx();
  } catch (e) {
    return onTfjs({ reason: 'unavailable', message: (e as Error).message });
  }
  try {
    return { ort, model: await ort.load(a.manifest) };
  } catch (e) {
    const msg = (e as Error).message;
    const reason = /ONNX Runtime could not load/.test(msg) ? 'load' : 'conversion';
    return onTfjs({ reason, message: msg });
  }
}

/** The same converted model, ORT version, threads and tfjs backend on this machine: decided before. */
function decisionKey(a: ChooseArgs, ort: OnnxEngine): string {
  return [
    basename(ort.lastLoad?.path ?? a.manifest.name),
    `ort ${ort.version} ${ort.backend} ${ort.threads}t`,
    `tfjs ${a.tfjs.backend}`,
    `${cpus().length} cpus`,
  ].join(' | ');
}

/** The engine an earlier start decided on for this model, when that decision covers this request. */
async function fromEarlierDecision(c: Candidate): Promise<Chosen | undefined> {
  const { a, base, ort } = c;
  const known = a.decisions?.get(c.key);
  const knownEq = known?.equivalence;
  if (!(known && knownEq && (a.requested === 'onnx' || known.timings?.tfjs !== undefined || !knownEq.ok)))
    return undefined;
  const timings = known.timings ?? {};
  const onnxOk =
    knownEq.ok &&
    (a.requested === 'onnx' ||
      (timings.onnx !== undefined && timings.tfjs !== undefined && timings.onnx <= timings.tfjs));
  const rest = { ...c.ortInfo, equivalence: knownEq, timings, decidedBefore: true };
  if (onnxOk) return { model: c.model, report: { ...base, engine: 'onnx', backend: ort.backend, ...rest } };
  c.model.dispose();
  return c.onTfjs(
    knownEq.ok
      ? undefined
      : {
          reason: 'not_equivalent',
          message: `${knownEq.measure} ${knownEq.value} misses ${knownEq.tolerance}`,
        },
    rest,
  );
}

/** Checks the candidate against tfjs on real input, then times both and keeps the faster (`auto`). */
async function checkAndTime(c: Candidate): Promise<Chosen> {
  const { a, base, ort, model: candidate } = c;
  const reference = await a.tfjs.load(a.manifest);
  const eq = await checkCandidate(c, reference);
  if ('report' in eq) return eq;
  const runs = a.timingRuns ?? 3;
  const timings: Partial<Record<EngineName, number>> = {
    onnx: round(await timeModel(candidate, a.timingInput, runs)),
  };
  if (a.requested === 'auto') timings.tfjs = round(await timeModel(reference, a.timingInput, runs));
  const useOnnx =
    a.requested === 'onnx' || (timings.onnx as number) <= (timings.tfjs ?? Number.POSITIVE_INFINITY);
  (useOnnx ? reference : candidate).dispose();
  a.decisions?.set(c.key, {
    ...base,
    engine: useOnnx ? 'onnx' : 'tfjs',
    backend: useOnnx ? ort.backend : a.tfjs.backend,
    equivalence: eq,
    timings,
  });
  return {
    model: useOnnx ? candidate : reference,
    report: {
      ...base,
      engine: useOnnx ? 'onnx' : 'tfjs',
      backend: useOnnx ? ort.backend : a.tfjs.backend,
      ...c.ortInfo,
      equivalence: eq,
      timings,
    },
  };
}

/** The equivalence of candidate and reference, or tfjs (the reference) when it failed or missed. */
async function checkCandidate(c: Candidate, reference: LoadedModel): Promise<Equivalence | Chosen> {
  const { a, base } = c;
  let eq: Equivalence;
  try {
    eq = await a.check(reference, c.model);
  } catch (e) {
    c.model.dispose();
    return {
      model: reference,
      report: {
        ...base,
        engine: 'tfjs',
        backend: a.tfjs.backend,
        ...c.ortInfo,
        fallback: { reason: 'load', message: `the ONNX model failed to run: ${(e as Error).message}` },
      },
    };
  }
  if (eq.ok) return eq;
  a.decisions?.set(c.key, { ...base, engine: 'tfjs', backend: a.tfjs.backend, equivalence: eq });
  c.model.dispose();
  return {
    model: reference,
    report: {
      ...base,
      engine: 'tfjs',
      backend: a.tfjs.backend,
      ...c.ortInfo,
      equivalence: eq,
      fallback: { reason: 'not_equivalent', message: `${eq.measure} ${eq.value} misses ${eq.tolerance}` },
    },
  };
}

/** One line per model for the log and `vigil doctor`. */
export function describeReport(r: ModelEngineReport): string {
  const parts: string[] = [`${r.model} (${r.task}): ${r.engine}/${r.backend}, requested ${r.requested}`];
  const t = r.timings;
  if (t?.onnx !== undefined)
    parts.push(
      `start-up timing onnx ${t.onnx.toFixed(1)} ms${t.tfjs !== undefined ? ` vs tfjs ${t.tfjs.toFixed(1)} ms` : ''} per call`,
    );
  if (r.equivalence) parts.push(describeEquivalence(r.equivalence));
  if (r.engine === 'onnx' && r.threads) parts.push(`${r.threads} intra-op thread(s)`);
  if (r.decidedBefore) parts.push('as measured at an earlier start on this machine');
  if (r.fallback)
    parts.push(`ONNX not used (${r.fallback.reason}): ${r.fallback.message}; falling back to tfjs`);
  return parts.join('; ');
}
