import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { PROJECT_ROOT } from '../util/paths.js';
import { isShared, type RgbImage, shared } from '../util/rgb.js';
import { describeReport } from './onnx/select.js';
import {
  type EngineName,
  type EngineSettings,
  type FromWorker,
  FromWorkerSchema,
  type ModelEngineReport,
  parseMessage,
  type ToWorker,
} from './protocol.js';
import type { ConfigOf, EventOf, InfoOf, RequestArgs, ResultOf, TaskEntry, TaskKind } from './task.js';
import type { BackendPreference } from './tfjs-engine.js';
import { closeWorker } from './worker-close.js';

export interface HostOptions {
  workers: number;
  backend: BackendPreference;
  /** What every worker loads, in this order (task.ts); e.g. faces/tasks, style/host.ts styleTask(). */
  tasks: TaskEntry[];
  /** Per-model engine choice (tfjs / ONNX Runtime / auto); absent: tfjs for every model. */
  engines?: EngineSettings;
  /** Image for the ONNX equivalence checks (default: a sample photo of @vladmandic/face-api). */
  probe?: RgbImage;
  debugDelayMs?: number;
  onRestart?: (workerIndex: number, reason: string) => void;
  log?: (msg: string) => void;
}

/** A task's result, with what the worker measured. */
export interface TaskRun<R> {
  result: R;
  /** Worker-side wall time of the request (ms). */
  ms: number;
  /** Live tensors in that worker after the request (leak checks). */
  tensors: number;
}

type Result = Extract<FromWorker, { type: 'result' }>;

interface Pending {
  resolve: (r: Result) => void;
  reject: (e: Error) => void;
}

interface Slot {
  index: number;
  worker: Worker;
  ready: boolean;
  busy: boolean;
  exited: boolean;
  pending: Map<number, Pending>;
}

/** Compiled worker script: next to this file when running from dist/, else dist/ (tests run src/). */
function workerScript(): string {
  const here = fileURLToPath(new URL('./worker.js', import.meta.url));
  if (existsSync(here)) return here;
  const built = join(PROJECT_ROOT, 'dist', 'inference', 'worker.js');
  if (existsSync(built)) return built;
  throw new Error(`inference worker not built: ${built} is missing (run npm run build)`);
}

/**
 * The one pool of inference workers (worker_threads), each with its own single-threaded backend, so
 * the main thread's event loop stays free for sockets. Every worker loads every task of `tasks`
 * (detection, embedding, style, ...: task.ts); the pool knows none of them. Frames go to workers on
 * their SharedArrayBuffers (shared, not copied). A crashed worker fails its request and is restarted.
 */
export class InferenceHost {
  private slots: Slot[] = [];
  private nextId = 1;
  private closed = false;
  private idleWaiters: Array<() => void> = [];
  private queue: Array<() => void> = [];
  /** Workers promised to queued requests whose continuation has not run yet. */
  private reserved = 0;
  engine = '';
  backend = '';
  /** How each model's engine was chosen (with engine settings; empty without). */
  models: ModelEngineReport[] = [];
  /** Engine per model as decided by the first worker; later and restarted workers reuse it. */
  private resolved: Record<string, EngineName> | undefined;
  private probe: RgbImage | undefined;
  /** What each task reported once loaded (the first worker's). */
  private readonly infos = new Map<string, unknown>();
  /** The latest setting per task: sent to every worker, and again to restarted ones. */
  private readonly configs = new Map<string, Extract<ToWorker, { type: 'configure' }>>();
  private readonly listeners = new Map<string, Set<(event: unknown) => void>>();

  constructor(private readonly opts: HostOptions) {}

  /** Starts every worker and waits until each has loaded and warmed up its tasks. */
  async start(): Promise<void> {
    const es = this.opts.engines;
    const needsChecks = es && (es.engine !== 'tfjs' || Object.values(es.models).some((c) => c !== 'tfjs'));
    if (!needsChecks) {
      await Promise.all(Array.from({ length: this.opts.workers }, (_, i) => this.spawn(i)));
      return;
    }
    // The first worker converts, checks and times the models alone (no other worker competes for
    // the cores while it measures); the others load what it chose.
    this.probe = await loadProbe(this.opts.probe).catch(() => undefined);
    await this.spawn(0);
    await Promise.all(Array.from({ length: this.opts.workers - 1 }, (_, i) => this.spawn(i + 1)));
  }

  /** The tasks the workers load. */
  get tasks(): string[] {
    return this.opts.tasks.map((t) => t.kind);
  }

  /** The engine and backend running `model` (the worker's tfjs backend when unknown). */
  backendOf(model: string): { engine: string; backend: string } {
    const r = this.models.find((x) => x.model === model);
    return r ? { engine: r.engine, backend: r.backend } : { engine: this.engine, backend: this.backend };
  }

  /** What task `kind` reported once loaded (e.g. the embedding length); undefined before start. */
  info<K extends TaskKind>(kind: K): InfoOf<K> | undefined {
    return this.infos.get(kind) as InfoOf<K> | undefined;
  }

  /** Workers ready and not running a request. */
  get idle(): number {
    return Math.max(0, this.freeSlots() - this.reserved);
  }

  private freeSlots(): number {
    return this.slots.filter((s) => s.ready && !s.busy).length;
  }

  /** Resolves when a worker becomes idle (or at once if one is). */
  whenIdle(): Promise<void> {
    if (this.idle > 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /**
   * Runs task `kind` on `frames` (and its request) on an idle worker, or queues (FIFO) until one
   * frees up: still-image requests (enroll, identify) wait their turn, and the live batchers, which
   * only dispatch when `idle` > 0, adapt. Frames on a SharedArrayBuffer are shared with the worker;
   * hold them until the promise settles. Others are copied (and counted: util/frame-copies.ts).
   */
  async run<K extends TaskKind>(
    kind: K,
    frames: readonly RgbImage[],
    ...request: RequestArgs<K>
  ): Promise<TaskRun<ResultOf<K>>> {
    const r = await this.dispatch(kind, frames, request[0]);
    return { result: r.result as ResultOf<K>, ms: r.ms, tensors: r.tensors };
  }

  /** Sets a task's setting in every worker (e.g. the gallery); restarted workers get the latest one. */
  configure<K extends TaskKind>(kind: K, config: ConfigOf<K>): void {
    const m: ToWorker = { type: 'configure', task: kind, config };
    this.configs.set(kind, m);
    for (const s of this.slots) s.worker.postMessage(m);
  }

  /** Listens to what task `kind` tells the host on its own (e.g. how a style's engine was chosen). */
  onEvent<K extends TaskKind>(kind: K, listener: (event: EventOf<K>) => void): () => void {
    let set = this.listeners.get(kind);
    if (!set) {
      set = new Set();
      this.listeners.set(kind, set);
    }
    const l = listener as (event: unknown) => void;
    set.add(l);
    return () => void set.delete(l);
  }

  private dispatch(task: string, frames: readonly RgbImage[], request: unknown): Promise<Result> {
    if (this.closed) return Promise.reject(new Error('inference host closed'));
    const slot = this.slots.find((s) => s.ready && !s.busy);
    if (!slot) {
      return new Promise<void>((r) => this.queue.push(r)).then(() => {
        this.reserved--;
        return this.dispatch(task, frames, request);
      });
    }
    slot.busy = true;
    const id = this.nextId++;
    // width, height and a view on the shared pixels: nothing else of a Frame crosses (nor could)
    const payload = frames.map(shared);
    return new Promise<Result>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      slot.worker.postMessage({
        type: 'run',
        id,
        task,
        frames: payload,
        request,
        debugDelayMs: this.opts.debugDelayMs,
      } satisfies ToWorker);
    });
  }

  /** Fault injection (tests): makes worker `i` throw an uncaught error. */
  crashWorker(i = 0): void {
    this.slots[i]?.worker.postMessage({ type: 'crash' } satisfies ToWorker);
  }

  async close(): Promise<void> {
    this.closed = true;
    // queued requests fail now, not never; whoever waits for an idle worker stops waiting
    for (const wake of this.queue.splice(0)) {
      this.reserved++;
      wake();
    }
    for (const wake of this.idleWaiters.splice(0)) wake();
    // asked, not terminated: a batch in flight on ONNX Runtime must finish first (see worker-close.ts)
    await Promise.all(this.slots.map((s) => closeWorker(s.worker, { exited: s.exited })));
    for (const s of this.slots)
      for (const p of s.pending.values()) p.reject(new Error('inference host closed'));
    this.slots = [];
  }

  private onReady(slot: Slot, m: Extract<FromWorker, { type: 'ready' }>): void {
    slot.ready = true;
    // the first task's model is "the" engine (metrics and health); backendOf() has every model's
    const main = m.models?.[0];
    this.engine = main?.engine ?? m.engine;
    this.backend = main?.backend ?? m.backend;
    for (const [kind, info] of Object.entries(m.info)) if (!this.infos.has(kind)) this.infos.set(kind, info);
    this.opts.log?.(
      `inference worker ${slot.index} ready: ${this.engine}/${this.backend}, warm-up ${m.warmupMs.toFixed(0)} ms`,
    );
    if (m.models && !this.resolved) {
      this.models = m.models;
      this.resolved = Object.fromEntries(m.models.map((r) => [r.model, r.engine]));
      for (const r of m.models) this.opts.log?.(`inference model ${describeReport(r)}`);
    }
  }

  /** Request `id` on `slot` is done: its caller gets the result or the error; the worker is free. */
  private settle(slot: Slot, id: number, outcome: Result | Error): void {
    const p = slot.pending.get(id);
    slot.pending.delete(id);
    slot.busy = false;
    if (p) {
      if (outcome instanceof Error) p.reject(outcome);
      else p.resolve(outcome);
    }
    this.notifyIdle();
  }

  /** A worker message of the wrong shape: the request it answers fails, else the start does. */
  private refuse(slot: Slot, raw: unknown, e: Error, failStart: (e: Error) => void): void {
    this.opts.log?.(e.message);
    const id = (raw as { id?: unknown } | null)?.id;
    if (typeof id === 'number' && slot.pending.has(id)) this.settle(slot, id, e);
    else if (!slot.ready) failStart(e);
  }

  private spawn(index: number): Promise<void> {
    const worker = new Worker(workerScript());
    const slot: Slot = { index, worker, ready: false, busy: false, exited: false, pending: new Map() };
    this.slots[index] = slot;
    return new Promise<void>((resolve, reject) => {
      worker.on('message', (raw: unknown) => {
        const m = parseMessage(FromWorkerSchema, `inference worker ${index}: message`, raw);
        if (m instanceof Error) this.refuse(slot, raw, m, reject);
        else if (m.type === 'ready') {
          this.onReady(slot, m);
          resolve();
          this.notifyIdle();
        } else if (m.type === 'init-error') {
          reject(new Error(`inference worker ${index} failed to start: ${m.message}`));
        } else if (m.type === 'event') {
          for (const l of this.listeners.get(m.task) ?? []) l(m.event);
        } else this.settle(slot, m.id, m.type === 'result' ? m : new Error(m.message));
      });
      worker.on('error', (e) => {
        if (!slot.ready) reject(e);
      });
      worker.on('exit', (code) => {
        slot.exited = true;
        for (const p of slot.pending.values())
          p.reject(new Error(`inference worker ${index} exited (code ${code})`));
        slot.pending.clear();
        if (this.closed || !slot.ready || this.slots[index] !== slot) return;
        this.opts.onRestart?.(index, `exit code ${code}`);
        this.opts.log?.(`inference worker ${index} exited (code ${code}); restarting`);
        this.spawn(index).catch((e: Error) =>
          this.opts.log?.(`inference worker ${index} restart failed: ${e.message}`),
        );
      });
      const engines = this.opts.engines
        ? { ...this.opts.engines, ...(this.resolved ? { resolved: this.resolved } : {}) }
        : undefined;
      worker.postMessage({
        type: 'init',
        backend: this.opts.backend,
        modules: [...new Set(this.opts.tasks.map((t) => t.module))],
        tasks: this.opts.tasks.map((t) => ({ kind: t.kind, spec: t.spec })),
        engines,
        workers: this.opts.workers,
        // the probe is only needed where checks run (the first worker)
        probe: engines && !this.resolved ? this.probe : undefined,
      } satisfies ToWorker);
      // A restarted worker gets the current settings too (they queue behind init in the worker).
      for (const c of this.configs.values()) worker.postMessage(c);
    });
  }

  private notifyIdle(): void {
    // Queued requests first (they dispatch synchronously in their continuation, one per idle worker).
    let free = this.idle;
    while (free > 0 && this.queue.length) {
      this.reserved++;
      this.queue.shift()?.();
      free--;
    }
    if (free > 0) while (this.idleWaiters.length) this.idleWaiters.shift()?.();
  }
}

/** The equivalence-check photo: the given pixels, else sample1.jpg of @vladmandic/face-api (always installed). */
async function loadProbe(given?: RgbImage): Promise<RgbImage> {
  if (given) return onShared(given);
  const { default: sharp } = await import('sharp');
  const { packageRoot } = await import('../util/packages.js');
  const file = join(packageRoot('@vladmandic/face-api'), 'demo', 'sample1.jpg');
  const { data, info } = await sharp(file)
    .resize({ width: 640, height: 640, fit: 'inside', withoutEnlargement: true })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return onShared({ width: info.width, height: info.height, pixels: data });
}

/** A still image at start-up (not a frame, so not counted as a frame copy) on a SharedArrayBuffer. */
function onShared(img: RgbImage): RgbImage {
  if (isShared(img)) return img;
  const pixels = new Uint8Array(new SharedArrayBuffer(img.pixels.byteLength));
  pixels.set(img.pixels);
  return { width: img.width, height: img.height, pixels };
}
