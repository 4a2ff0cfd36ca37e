/**
 * Inference worker: one single-threaded tfjs backend (and ONNX Runtime when configured) shared by
 * the tasks the host names. The worker knows no task: it imports the task modules it is given
 * (task.ts), loads each task in order, then runs requests on frames that arrive on
 * SharedArrayBuffers, one task call per message.
 */
import { parentPort } from 'node:worker_threads';
import type { RgbImage } from '../util/rgb.js';
import type { InferenceEngine, LoadedModel, ModelManifest } from './contract.js';
import { createOnnxEngine, type OnnxEngine } from './onnx/engine.js';
import { chooseEngine, fileDecisions } from './onnx/select.js';
import type { Equivalence } from './onnx/verify.js';
import {
  type EngineChoice,
  type FromWorker,
  type ModelEngineReport,
  parseMessage,
  type ToWorker,
  ToWorkerSchema,
} from './protocol.js';
import { type AnyTask, type LoadContext, type RunContext, taskOf } from './task.js';
import { createTfjsEngine } from './tfjs-engine.js';
import { exitWorker } from './worker-close.js';

const port = parentPort;
if (!port) throw new Error('worker.ts must run in a worker thread');

type InitMsg = Extract<ToWorker, { type: 'init' }>;

let tfjs: InferenceEngine;
let onnxEngine: Promise<OnnxEngine> | undefined;
/** The loaded tasks, by kind, with the context each loaded with. */
const loaded = new Map<string, { task: AnyTask; state: unknown; ctx: LoadContext }>();
/** Requests in flight (close waits for them). */
const running = new Set<Promise<void>>();
/** Messages that need the tasks wait for initialisation. */
let initDone: Promise<void> = Promise.resolve();

const send = (m: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

/** A task module named by the host: a path under dist/, resolved from this file (dist/inference/). */
function moduleUrl(path: string): string {
  if (!/^[\w-]+(\/[\w-]+)*\.js$/.test(path)) throw new Error(`task module "${path}": not a path under dist/`);
  return new URL(`../${path}`, import.meta.url).href;
}

/** The probe photo, or a synthetic gradient when the host sent none. */
function probeFrames(msg: InitMsg): { frames: RgbImage[]; label: string } {
  if (msg.probe) return { frames: [msg.probe], label: 'a sample photo' };
  const w = 320;
  const h = 240;
  const px = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) {
    px[i * 3] = (i % w) * 0.8;
    px[i * 3 + 1] = Math.floor(i / w);
    px[i * 3 + 2] = 128;
  }
  return { frames: [{ width: w, height: h, pixels: px }], label: 'a synthetic gradient' };
}

function runContext(kind: string, transfer: ArrayBuffer[] = []): RunContext {
  return {
    tfjs,
    transfer: (...b) => transfer.push(...b),
    emit: (event) => send({ type: 'event', task: kind, event }),
  };
}

/** What task `kind` loads with: the engines, the probe, the tasks loaded before it. */
function loadContext(msg: InitMsg, kind: string, reports: ModelEngineReport[]): LoadContext {
  const es = msg.engines;
  const onnx = es
    ? () => {
        onnxEngine ??= createOnnxEngine({ ...es.onnx, workers: msg.workers ?? 1 });
        return onnxEngine;
      }
    : undefined;
  const engineFor = (model: string): EngineChoice => (es ? (es.models[model] ?? es.engine) : 'tfjs');
  return {
    tfjs,
    onnx,
    engineFor,
    probe: probeFrames(msg),
    async loadModel(m: ModelManifest, check: (r: LoadedModel, c: LoadedModel) => Promise<Equivalence>) {
      if (!es || !onnx) return tfjs.load(m);
      const { model, report } = await chooseEngine({
        manifest: m,
        task: kind,
        requested: engineFor(m.name),
        resolved: es.resolved?.[m.name],
        tfjs,
        onnx,
        check,
        decisions: fileDecisions(es.onnx.cacheDir),
        timingInput: { data: new Float32Array(m.input[0] * m.input[1] * m.input[2]), shape: [1, ...m.input] },
      });
      reports.push(report);
      return model;
    },
    async run(other, frames, request) {
      const t = loaded.get(other);
      if (!t) throw new Error(`task "${other}" is not loaded before "${kind}"`);
      return t.task.run(t.state, frames, request, runContext(other));
    },
    emit: (event) => send({ type: 'event', task: kind, event }),
  };
}

async function init(msg: InitMsg): Promise<void> {
  const t0 = performance.now();
  tfjs = await createTfjsEngine(msg.backend);
  for (const m of msg.modules) await import(moduleUrl(m));
  const reports: ModelEngineReport[] = [];
  const info: Record<string, unknown> = {};
  for (const { kind, spec } of msg.tasks) {
    const task = taskOf(kind);
    if (!task) throw new Error(`no inference task "${kind}" in the task modules (${msg.modules.join(', ')})`);
    const ctx = loadContext(msg, kind, reports);
    const state = await task.load(spec, ctx);
    loaded.set(kind, { task, state, ctx });
    info[kind] = task.info?.(state);
  }
  send({
    type: 'ready',
    engine: tfjs.engine,
    backend: tfjs.backend,
    warmupMs: performance.now() - t0,
    info,
    models: msg.engines ? reports : undefined,
  });
}

/** A message of the wrong shape: a run fails with the reason; anything else fails the worker's start. */
function refuse(raw: unknown, e: Error): void {
  const id = (raw as { id?: unknown } | null)?.id;
  if ((raw as { type?: unknown } | null)?.type === 'run' && typeof id === 'number')
    send({ type: 'error', id, message: e.message });
  else send({ type: 'init-error', message: e.message });
}

function run(msg: Extract<ToWorker, { type: 'run' }>): void {
  const t0 = performance.now();
  const job = (async () => {
    await initDone;
    if (msg.debugDelayMs) await new Promise((r) => setTimeout(r, msg.debugDelayMs));
    const t = loaded.get(msg.task);
    if (!t) throw new Error(`inference task "${msg.task}" is not loaded in this worker`);
    const transfer: ArrayBuffer[] = [];
    const result = await t.task.run(t.state, msg.frames, msg.request, runContext(msg.task, transfer));
    const ms = performance.now() - t0;
    send({ type: 'result', id: msg.id, result, ms, tensors: tfjs.memory().tensors }, transfer);
  })().catch((e: Error) => send({ type: 'error', id: msg.id, message: e.message }));
  running.add(job);
  void job.finally(() => running.delete(job));
}

port.on('message', (raw: unknown) => {
  const msg = parseMessage(ToWorkerSchema, 'inference worker: message', raw);
  if (msg instanceof Error) {
    refuse(raw, msg);
    return;
  }
  if (msg.type === 'init') {
    initDone = init(msg).catch((e: Error) => send({ type: 'init-error', message: e.message }));
  } else if (msg.type === 'run') {
    run(msg);
  } else if (msg.type === 'configure') {
    initDone = initDone.then(() => {
      const t = loaded.get(msg.task);
      try {
        t?.task.configure?.(t.state, msg.config, t.ctx);
      } catch (e) {
        // a bad setting must not stop the requests queued behind it
        process.stderr.write(`inference task ${msg.task}: configure failed: ${(e as Error).message}\n`);
      }
    });
  } else if (msg.type === 'close') {
    // finish initialisation and the requests in flight, release the tasks and the ONNX sessions, exit
    void exitWorker(async () => {
      await initDone;
      while (running.size) await Promise.allSettled([...running]);
      for (const t of loaded.values()) await t.task.dispose?.(t.state);
      const ort = await onnxEngine?.catch(() => undefined);
      await ort?.close();
    });
  } else if (msg.type === 'crash') {
    // Fault injection for tests: an uncaught error kills this worker.
    setImmediate(() => {
      throw new Error('worker crash requested');
    });
  }
});
