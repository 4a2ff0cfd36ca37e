/**
 * A pool of style workers (worker_threads, one tfjs wasm backend each). `stylize` sends a frame to an
 * idle worker (or queues it); a request for a style whose files are missing or corrupt fails with an
 * error naming the file, and later requests for it fail at once (the stream stays unstyled).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { PROJECT_ROOT } from '../inference/model-loader.js';
import type { BackendPreference } from '../inference/tfjs-engine.js';

export type ToStyleWorker =
  | { type: 'init'; backend: BackendPreference }
  | {
      type: 'run';
      id: number;
      dir: string;
      width: number;
      height: number;
      pixels: ArrayBuffer;
      smoothingKey: string;
      smoothing: number;
    };

export type FromStyleWorker =
  | { type: 'ready'; backend: string }
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

  constructor(
    private readonly opts: { workers: number; backend: BackendPreference; log?: (m: string) => void },
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
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    for (const s of this.slots) for (const p of s.pending.values()) p.reject(new Error('style host closed'));
    this.slots = [];
  }

  private spawn(index: number): Promise<void> {
    const worker = new Worker(workerScript());
    const slot: Slot = { worker, busy: false, pending: new Map() };
    this.slots[index] = slot;
    return new Promise<void>((resolve, reject) => {
      worker.on('message', (m: FromStyleWorker) => {
        if (m.type === 'ready') {
          this.backend = m.backend;
          this.opts.log?.(`style worker ${index} ready: tfjs/${m.backend}`);
          resolve();
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
        for (const p of slot.pending.values())
          p.reject(new Error(`style worker ${index} exited (code ${code})`));
        slot.pending.clear();
        if (this.closed) return;
        this.opts.log?.(`style worker ${index} exited (code ${code}); restarting`);
        this.spawn(index).catch((e) => this.opts.log?.((e as Error).message));
      });
      worker.postMessage({ type: 'init', backend: this.opts.backend } satisfies ToStyleWorker);
    });
  }
}
