import { Observable, type OperatorFunction } from 'rxjs';

export interface BatchItem {
  readonly streamId: string;
  readonly seq: number;
}

export interface BatchRunner<F extends BatchItem, R> {
  /** Free capacity right now (idle workers). */
  idle(): number;
  /** Resolves when capacity frees up. */
  whenIdle(): Promise<void>;
  /** Runs a batch; resolves with one result per frame, in order. */
  run(frames: F[]): Promise<R[]>;
}

export interface BatcherOptions<F> {
  maxBatch: number;
  maxWaitMs: number;
  /** A frame that will not be inferred: replaced by a newer one of its stream, or its batch failed. */
  onDrop?: (frame: F, reason: 'inference_busy' | 'inference_error', error?: Error) => void;
  /** Frames waiting in slots, after every change (bounded by the number of streams). */
  onPending?: (n: number) => void;
  now?: () => number;
}

export interface Batched<F, R> {
  frame: F;
  result: R;
  /** ms the frame waited in its slot before its batch started. */
  queueMs: number;
  /** ms of its batch's inference call. */
  batchMs: number;
  batchSize: number;
}

/**
 * Cross-stream batching with latest-frame-wins, in the manner of DeepStream's nvstreammux. Each
 * stream owns one slot: a newer frame replaces an undispatched older one (the older is dropped and
 * counted), so no queue can grow. When a runner is idle, the frames waiting in slots are sent as one
 * batch once `maxBatch` streams have a frame or `maxWaitMs` has passed since the first one arrived.
 * A stream has at most one frame in flight, so its results come back in sequence order.
 */
export class CrossStreamBatcher<F extends BatchItem, R> {
  private readonly slots = new Map<string, { frame: F; arrived: number }>();
  private readonly inFlight = new Set<string>();
  /** Batches on the runner: their frames are held until their results are emitted or dropped. */
  private readonly running = new Set<Promise<void>>();
  private firstArrival: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private waitingForIdle = false;
  private closed = false;
  private readonly now: () => number;

  constructor(
    private readonly runner: BatchRunner<F, R>,
    private readonly opts: BatcherOptions<F>,
    private readonly emit: (out: Batched<F, R>) => void,
  ) {
    this.now = opts.now ?? (() => performance.now());
  }

  get pending(): number {
    return this.slots.size;
  }

  offer(frame: F): void {
    if (this.closed) {
      this.opts.onDrop?.(frame, 'inference_busy');
      return;
    }
    const old = this.slots.get(frame.streamId);
    if (old) this.opts.onDrop?.(old.frame, 'inference_busy');
    this.slots.set(frame.streamId, { frame, arrived: this.now() });
    this.opts.onPending?.(this.slots.size);
    this.schedule();
  }

  /** Resolves once no batch is in flight: every frame handed to the runner is emitted or dropped. */
  async settled(): Promise<void> {
    while (this.running.size) await Promise.allSettled([...this.running]);
  }

  /** Drops what waits in slots; batches in flight still complete (await `settled()` for them). */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    for (const { frame } of this.slots.values()) this.opts.onDrop?.(frame, 'inference_busy');
    this.slots.clear();
    this.opts.onPending?.(0);
  }

  private eligible(): Array<[string, { frame: F; arrived: number }]> {
    return [...this.slots.entries()].filter(([id]) => !this.inFlight.has(id));
  }

  private schedule(): void {
    if (this.closed) return;
    const ready = this.eligible();
    if (!ready.length) {
      this.firstArrival = undefined;
      return;
    }
    if (this.runner.idle() <= 0) {
      if (!this.waitingForIdle) {
        this.waitingForIdle = true;
        this.runner.whenIdle().then(() => {
          // Let the completion of the batch that freed the runner land first (it frees its streams).
          setImmediate(() => {
            this.waitingForIdle = false;
            this.schedule();
          });
        });
      }
      return;
    }
    this.firstArrival ??= Math.min(...ready.map(([, s]) => s.arrived));
    const waited = this.now() - this.firstArrival;
    if (ready.length >= this.opts.maxBatch || waited >= this.opts.maxWaitMs) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.dispatch(ready);
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.schedule();
      }, this.opts.maxWaitMs - waited);
    }
  }

  private dispatch(ready: Array<[string, { frame: F; arrived: number }]>): void {
    const chosen = ready.sort((a, b) => a[1].arrived - b[1].arrived).slice(0, this.opts.maxBatch);
    const start = this.now();
    for (const [id] of chosen) {
      this.slots.delete(id);
      this.inFlight.add(id);
    }
    this.firstArrival = undefined;
    this.opts.onPending?.(this.slots.size);
    const frames = chosen.map(([, s]) => s.frame);
    const batch = this.runner
      .run(frames)
      .then(
        (results) => {
          const batchMs = this.now() - start;
          frames.forEach((frame, i) => {
            this.inFlight.delete(frame.streamId);
            this.emit({
              frame,
              result: results[i] as R,
              queueMs: start - (chosen[i]?.[1].arrived ?? start),
              batchMs,
              batchSize: frames.length,
            });
          });
        },
        (err: Error) => {
          for (const f of frames) {
            this.inFlight.delete(f.streamId);
            this.opts.onDrop?.(f, 'inference_error', err);
          }
        },
      )
      .finally(() => {
        this.running.delete(batch);
        this.schedule();
      });
    this.running.add(batch);
    // Another runner may be idle: keep filling it with what is left.
    queueMicrotask(() => this.schedule());
  }
}

/**
 * RxJS form of CrossStreamBatcher: frames of all streams in, one `Batched` out per inferred frame.
 * Frames that are kept are retained while waiting and released after their result is emitted
 * (or when dropped), via the optional `retain` / `release` hooks.
 */
export function batchAcrossStreams<F extends BatchItem, R>(
  runner: BatchRunner<F, R>,
  opts: BatcherOptions<F> & { retain?: (f: F) => void; release?: (f: F) => void },
): OperatorFunction<F, Batched<F, R>> {
  return (source) =>
    new Observable<Batched<F, R>>((sub) => {
      const batcher = new CrossStreamBatcher<F, R>(
        runner,
        {
          ...opts,
          onDrop: (f, reason, err) => {
            opts.onDrop?.(f, reason, err);
            opts.release?.(f);
          },
        },
        (out) => {
          try {
            sub.next(out);
          } finally {
            opts.release?.(out.frame);
          }
        },
      );
      const s = source.subscribe({
        next: (f) => {
          opts.retain?.(f);
          batcher.offer(f);
        },
        error: (e) => sub.error(e),
        complete: () => sub.complete(),
      });
      return () => {
        s.unsubscribe();
        batcher.close();
      };
    });
}
