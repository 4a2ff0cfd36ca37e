import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Detection } from './contract.js';
import { PROJECT_ROOT } from '../util/paths.js';
import { describeReport } from './onnx/select.js';
import type {
  EmbeddedFace,
  EngineName,
  EngineSettings,
  FaceRequest,
  FramePayload,
  FromWorker,
  ModelEngineReport,
  TaskSpec,
  ToWorker,
} from './protocol.js';
import type { BackendPreference } from './tfjs-engine.js';
import { closeWorker } from './worker-close.js';
import { countFrameCopy } from '../util/frame-copies.js';

export interface HostOptions {
  workers: number;
  backend: BackendPreference;
  tasks: TaskSpec;
  /** Per-model engine choice (tfjs / ONNX Runtime / auto); absent: tfjs for every model. */
  engines?: EngineSettings;
  /** Image for the ONNX equivalence checks (default: a sample photo of @vladmandic/face-api). */
  probe?: Pixels;
  debugDelayMs?: number;
  onRestart?: (workerIndex: number, reason: string) => void;
  log?: (msg: string) => void;
}

export interface BatchResult {
  detections: Detection[][];
  /** Worker-side wall time of the batch (ms). */
  ms: number;
  /** Live tensors in that worker after the batch (leak checks). */
  tensors: number;
}

export interface EmbedResult {
  faces: EmbeddedFace[];
  /** The gallery version the matches were computed against (undefined: no gallery). */
  galleryVersion: number | undefined;
  ms: number;
  tensors: number;
}

type Result = Extract<FromWorker, { type: 'result' }>;

interface Pending {
  resolve: (r: Result) => void;
  reject: (e: Error) => void;
}

type Pixels = { width: number; height: number; pixels: Uint8Array };

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
 * A pool of inference workers (worker_threads), each with its own single-threaded backend, so the
 * main thread's event loop stays free for sockets. A crashed worker fails its batch and is restarted.
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
  /** Length of the embedding vectors (when an embed task runs). */
  embedDim = 0;
  /** How each model's engine was chosen (with engine settings; empty without). */
  models: ModelEngineReport[] = [];
  /** Engine per model as decided by the first worker; later and restarted workers reuse it. */
  private resolved: Record<string, EngineName> | undefined;
  private probe: FramePayload | undefined;
  private gallery: Extract<ToWorker, { type: 'gallery' }> | undefined;

  constructor(private readonly opts: HostOptions) {}

  /** Starts every worker and waits until each has loaded and warmed up its models. */
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

  /** The engine and backend running `model` (the worker's tfjs backend when unknown). */
  backendOf(model: string): { engine: string; backend: string } {
    const r = this.models.find((x) => x.model === model);
    return r ? { engine: r.engine, backend: r.backend } : { engine: this.engine, backend: this.backend };
  }

  /** Workers ready and not running a batch. */
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

  /** Detects faces in a batch of frames on an idle worker; pixels are copied, the caller keeps its buffers. */
  async run(task: 'detect', frames: Pixels[]): Promise<BatchResult> {
    const r = await this.dispatch(
      (id, payload) => ({ type: 'run', id, task, frames: payload, debugDelayMs: this.opts.debugDelayMs }),
      frames,
    );
    return { detections: r.detections ?? [], ms: r.ms, tensors: r.tensors };
  }

  /** Aligns, embeds and matches (top-k gallery rows) the given faces of a batch of frames. */
  async embed(frames: Pixels[], faces: FaceRequest[], topK = 5): Promise<EmbedResult> {
    const r = await this.dispatch(
      (id, payload) => ({
        type: 'run',
        id,
        task: 'embed',
        frames: payload,
        faces,
        topK,
        debugDelayMs: this.opts.debugDelayMs,
      }),
      frames,
    );
    return { faces: r.faces ?? [], galleryVersion: r.galleryVersion, ms: r.ms, tensors: r.tensors };
  }

  /** Replaces the gallery matrix (rows x dim, L2-normalised rows) in every worker. */
  setGallery(version: number, data: Float32Array, rows: number, dim: number): void {
    this.gallery = { type: 'gallery', version, rows, dim, data };
    for (const s of this.slots) s.worker.postMessage(this.gallery);
  }

  /**
   * Runs on an idle worker, or queues (FIFO) until one frees up: still-image requests (enroll,
   * identify) wait their turn, and the live batchers, which only dispatch when `idle` > 0, adapt.
   */
  private dispatch(
    build: (id: number, payload: FramePayload[]) => ToWorker,
    frames: Pixels[],
  ): Promise<Result> {
    if (this.closed) return Promise.reject(new Error('inference host closed'));
    const slot = this.slots.find((s) => s.ready && !s.busy);
    if (!slot) {
      return new Promise<void>((r) => this.queue.push(r)).then(() => {
        this.reserved--;
        return this.dispatch(build, frames);
      });
    }
    slot.busy = true;
    const id = this.nextId++;
    const payload: FramePayload[] = frames.map((f) => {
      const copy = new Uint8Array(f.pixels.length);
      copy.set(f.pixels);
      return { width: f.width, height: f.height, pixels: copy.buffer };
    });
    countFrameCopy('inference_dispatch', payload.length);
    return new Promise<Result>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      slot.worker.postMessage(
        build(id, payload),
        payload.map((p) => p.pixels),
      );
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

  private spawn(index: number): Promise<void> {
    const worker = new Worker(workerScript());
    const slot: Slot = { index, worker, ready: false, busy: false, exited: false, pending: new Map() };
    this.slots[index] = slot;
    return new Promise<void>((resolve, reject) => {
      worker.on('message', (m: FromWorker) => {
        if (m.type === 'ready') {
          slot.ready = true;
          // the detector's engine is "the" engine (metrics and health); backendOf() has every model's
          const main = m.models?.find((r) => r.task === 'detect') ?? m.models?.[0];
          this.engine = main?.engine ?? m.engine;
          this.backend = main?.backend ?? m.backend;
          this.embedDim = m.embedDim ?? 0;
          this.opts.log?.(
            `inference worker ${index} ready: ${this.engine}/${this.backend}, warm-up ${m.warmupMs.toFixed(0)} ms`,
          );
          if (m.models && !this.resolved) {
            this.models = m.models;
            this.resolved = Object.fromEntries(m.models.map((r) => [r.model, r.engine]));
            for (const r of m.models) this.opts.log?.(`inference model ${describeReport(r)}`);
          }
          resolve();
          this.notifyIdle();
        } else if (m.type === 'init-error') {
          reject(new Error(`inference worker ${index} failed to start: ${m.message}`));
        } else {
          const p = slot.pending.get(m.id);
          slot.pending.delete(m.id);
          slot.busy = false;
          if (p) {
            if (m.type === 'result') p.resolve(m);
            else p.reject(new Error(m.message));
          }
          this.notifyIdle();
        }
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
        tasks: this.opts.tasks,
        engines,
        workers: this.opts.workers,
        // the probe is only needed where checks run (the first worker); copied, the host keeps it
        probe: engines && !this.resolved ? this.probe : undefined,
      } satisfies ToWorker);
      // A restarted worker gets the current gallery too (it queues behind init in the worker).
      if (this.gallery) worker.postMessage(this.gallery);
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
async function loadProbe(given?: Pixels): Promise<FramePayload> {
  if (given) {
    const copy = new Uint8Array(given.pixels.length);
    copy.set(given.pixels);
    return { width: given.width, height: given.height, pixels: copy.buffer };
  }
  const { default: sharp } = await import('sharp');
  const { packageRoot } = await import('../util/packages.js');
  const file = join(packageRoot('@vladmandic/face-api'), 'demo', 'sample1.jpg');
  const { data, info } = await sharp(file)
    .resize({ width: 640, height: 640, fit: 'inside', withoutEnlargement: true })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const px = new Uint8Array(data.length);
  px.set(data);
  return { width: info.width, height: info.height, pixels: px.buffer };
}
