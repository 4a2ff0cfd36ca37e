/**
 * A pool of style workers (worker_threads, one tfjs wasm backend each). `stylize` sends a frame to an
 * idle worker (or queues it); a request for a style whose files are missing or corrupt fails with an
 * error naming the file, and later requests for it fail at once (the stream stays unstyled).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CLOSE_MESSAGE, closeWorker } from '../inference/worker-close.js';
import { Worker } from 'node:worker_threads';
import { PROJECT_ROOT } from '../util/paths.js';
import type { BackendPreference } from '../inference/tfjs-engine.js';
import { countFrameCopy } from '../util/frame-copies.js';

/** How a style's engine was chosen (one per style, when it is first used). */
export interface StyleEngineReport {
  style: string;
  engine: 'tfjs' | 'onnx';
  requested: 'auto' | 'tfjs' | 'onnx';
  /** ONNX Runtime's provider when it runs the style. */
  backend?: string;
  /** Largest difference from tfjs on the probe frame, 0..255 scale. */
  maxAbs255?: number;
  /** ms per 256x144 probe frame. */
  timings?: { tfjs: number; onnx: number };
  /** Why tfjs runs it. */
  reason?: string;
  /** ONNX Runtime was wanted (or could have run it) but failed: conversion, loading or equivalence. */
  fallback?: boolean;
}

export interface StyleEngineSettings {
  engine: 'auto' | 'tfjs' | 'onnx';
  onnx?: { intraOpThreads: number; executionProviders: Array<'cpu' | 'cuda' | 'tensorrt'>; cacheDir: string };
}

export type ToStyleWorker =
  | ({ type: 'init'; backend: BackendPreference; workers: number } & StyleEngineSettings)
  | {
      type: 'run';
      id: number;
      dir: string;
      width: number;
      height: number;
      pixels: ArrayBuffer;
      smoothingKey: string;
      smoothing: number;
    }
  | typeof CLOSE_MESSAGE;

export type FromStyleWorker =
  | { type: 'ready'; backend: string }
  | { type: 'engine'; report: StyleEngineReport }
  | { type: 'init-error'; message: string }
  | { type: 'result'; id: number; ms: number; pixels: ArrayBuffer }
  | { type: 'error'; id: number; message: string };

function workerScript(): string {
  const here = fileURLToPath(new URL('./worker.js', import.meta.url));
  if (existsSync(here)) return here;
  const built = join(PROJECT_ROOT, 'dist', 'style', 'worker.js');
  if (existsSync(built)) return built;
  throw new Error(`style worker not built: ${built} is missing (run npm run build)`);
}

interface Slot {
  worker: Worker;
  busy: boolean;
  exited: boolean;
  pending: Map<
    number,
    { resolve: (r: { pixels: Uint8Array; ms: number }) => void; reject: (e: Error) => void }
  >;
}

export class StyleHost {
  private slots: Slot[] = [];
  private queue: Array<() => void> = [];
  private nextId = 1;
  private closed = false;
  backend = '';

  /** Per style: how its engine was chosen (reported by the first worker that ran it). */
  readonly engines = new Map<string, StyleEngineReport>();

  constructor(
    private readonly opts: {
      workers: number;
      backend: BackendPreference;
      engines?: StyleEngineSettings;
      log?: (m: string) => void;
      onEngine?: (r: StyleEngineReport) => void;
    },
  ) {}

  async start(): Promise<void> {
    await Promise.all(Array.from({ length: this.opts.workers }, (_, i) => this.spawn(i)));
  }

  get idle(): number {
    return this.slots.filter((s) => !s.busy).length;
  }

  /** Stylises an RGB24 frame with the style in `dir` (pixels are copied). */
  async stylize(
    dir: string,
    frame: { width: number; height: number; pixels: Uint8Array },
    opts: { smoothingKey?: string; smoothing?: number } = {},
  ): Promise<{ pixels: Uint8Array; ms: number }> {
    if (this.closed) throw new Error('style host closed');
    let slot = this.slots.find((s) => !s.busy);
    while (!slot) {
      await new Promise<void>((r) => this.queue.push(r));
      if (this.closed) throw new Error('style host closed');
      slot = this.slots.find((s) => !s.busy);
    }
    slot.busy = true;
    const s = slot;
    const id = this.nextId++;
    const copy = new Uint8Array(frame.pixels);
    countFrameCopy('style_dispatch');
    try {
      return await new Promise((resolve, reject) => {
        s.pending.set(id, { resolve, reject });
        s.worker.postMessage(
          {
            type: 'run',
            id,
            dir,
            width: frame.width,
            height: frame.height,
            pixels: copy.buffer,
            smoothingKey: opts.smoothingKey ?? '',
            smoothing: opts.smoothing ?? 0,
          } satisfies ToStyleWorker,
          [copy.buffer],
        );
      });
    } finally {
      s.busy = false;
      this.queue.shift()?.();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.queue.splice(0)) w();
    // asked, not terminated: a frame in flight on ONNX Runtime must finish first (see worker-close.ts)
    await Promise.all(this.slots.map((s) => closeWorker(s.worker, { exited: s.exited })));
    for (const s of this.slots) for (const p of s.pending.values()) p.reject(new Error('style host closed'));
    this.slots = [];
  }

  private spawn(index: number): Promise<void> {
    const worker = new Worker(workerScript());
    const slot: Slot = { worker, busy: false, exited: false, pending: new Map() };
    this.slots[index] = slot;
    return new Promise<void>((resolve, reject) => {
      worker.on('message', (m: FromStyleWorker) => {
        if (m.type === 'ready') {
          this.backend = m.backend;
          this.opts.log?.(`style worker ${index} ready: tfjs/${m.backend}`);
          resolve();
        } else if (m.type === 'engine') {
          if (!this.engines.has(m.report.style)) {
            this.engines.set(m.report.style, m.report);
            const r = m.report;
            const t = r.timings
              ? `, ${r.timings.onnx.toFixed(1)} ms onnx vs ${r.timings.tfjs.toFixed(1)} ms tfjs per 256x144`
              : '';
            this.opts.log?.(
              `style ${r.style}: ${r.engine}${r.backend ? `/${r.backend}` : ''}${t}${r.reason ? ` (${r.reason})` : ''}`,
            );
            this.opts.onEngine?.(r);
          }
        } else if (m.type === 'init-error')
          reject(new Error(`style worker ${index} failed to start: ${m.message}`));
        else {
          const p = slot.pending.get(m.id);
          slot.pending.delete(m.id);
          if (!p) return;
          if (m.type === 'result') p.resolve({ pixels: new Uint8Array(m.pixels), ms: m.ms });
          else p.reject(new Error(m.message));
        }
      });
      worker.on('error', (e) => this.opts.log?.(`style worker ${index} error: ${e.message}`));
      worker.on('exit', (code) => {
        slot.exited = true;
        for (const p of slot.pending.values())
          p.reject(new Error(`style worker ${index} exited (code ${code})`));
        slot.pending.clear();
        if (this.closed) return;
        this.opts.log?.(`style worker ${index} exited (code ${code}); restarting`);
        this.spawn(index).catch((e) => this.opts.log?.((e as Error).message));
      });
      worker.postMessage({
        type: 'init',
        backend: this.opts.backend,
        workers: this.opts.workers,
        ...(this.opts.engines ?? { engine: 'tfjs' }),
      } satisfies ToStyleWorker);
    });
  }
}
