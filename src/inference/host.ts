import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Detection } from './contract.js';
import { PROJECT_ROOT } from './model-loader.js';
import type { FramePayload, FromWorker, TaskSpec, ToWorker } from './protocol.js';
import type { BackendPreference } from './tfjs-engine.js';

export interface HostOptions {
  workers: number;
  backend: BackendPreference;
  tasks: TaskSpec;
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

interface Pending {
  resolve: (r: BatchResult) => void;
  reject: (e: Error) => void;
}

interface Slot {
  index: number;
  worker: Worker;
  ready: boolean;
  busy: boolean;
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
  engine = '';
  backend = '';

  constructor(private readonly opts: HostOptions) {}

  /** Starts every worker and waits until each has loaded and warmed up its models. */
  async start(): Promise<void> {
    await Promise.all(Array.from({ length: this.opts.workers }, (_, i) => this.spawn(i)));
  }

  /** Workers ready and not running a batch. */
  get idle(): number {
    return this.slots.filter((s) => s.ready && !s.busy).length;
  }

  /** Resolves when a worker becomes idle (or at once if one is). */
  whenIdle(): Promise<void> {
    if (this.idle > 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Runs one batch on an idle worker; pixels are copied, the caller keeps its buffers. */
  run(
    task: keyof TaskSpec,
    frames: Array<{ width: number; height: number; pixels: Uint8Array }>,
  ): Promise<BatchResult> {
    const slot = this.slots.find((s) => s.ready && !s.busy);
    if (!slot) return Promise.reject(new Error('no idle inference worker'));
    slot.busy = true;
    const id = this.nextId++;
    const payload: FramePayload[] = frames.map((f) => {
      const copy = new Uint8Array(f.pixels.length);
      copy.set(f.pixels);
      return { width: f.width, height: f.height, pixels: copy.buffer };
    });
    return new Promise<BatchResult>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      const msg: ToWorker = { type: 'run', id, task, frames: payload, debugDelayMs: this.opts.debugDelayMs };
      slot.worker.postMessage(
        msg,
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
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    for (const s of this.slots)
      for (const p of s.pending.values()) p.reject(new Error('inference host closed'));
    this.slots = [];
  }

  private spawn(index: number): Promise<void> {
    const worker = new Worker(workerScript());
    const slot: Slot = { index, worker, ready: false, busy: false, pending: new Map() };
    this.slots[index] = slot;
    return new Promise<void>((resolve, reject) => {
      worker.on('message', (m: FromWorker) => {
        if (m.type === 'ready') {
          slot.ready = true;
          this.engine = m.engine;
          this.backend = m.backend;
          this.opts.log?.(
            `inference worker ${index} ready: ${m.engine}/${m.backend}, warm-up ${m.warmupMs.toFixed(0)} ms`,
          );
          resolve();
          this.notifyIdle();
        } else if (m.type === 'init-error') {
          reject(new Error(`inference worker ${index} failed to start: ${m.message}`));
        } else {
          const p = slot.pending.get(m.id);
          slot.pending.delete(m.id);
          slot.busy = false;
          if (p) {
            if (m.type === 'result') p.resolve({ detections: m.detections, ms: m.ms, tensors: m.tensors });
            else p.reject(new Error(m.message));
          }
          this.notifyIdle();
        }
      });
      worker.on('error', (e) => {
        if (!slot.ready) reject(e);
      });
      worker.on('exit', (code) => {
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
      worker.postMessage({
        type: 'init',
        backend: this.opts.backend,
        tasks: this.opts.tasks,
      } satisfies ToWorker);
    });
  }

  private notifyIdle(): void {
    while (this.idle > 0 && this.idleWaiters.length) this.idleWaiters.shift()?.();
  }
}
