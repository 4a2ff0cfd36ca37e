import { BufferPool, type Frame, pooledFrame } from './frame.js';

export interface SplitterOptions {
  streamId: string;
  width: number;
  height: number;
  /** Buffers in the pool (frames that may be held downstream at once). */
  poolSize?: number;
  /** First sequence number (continues across reconnects). */
  firstSeq?: number;
  now?: () => number;
  /** The source chooses detection frames: every this many (from firstSeq) is due (Frame.detectDue). */
  detectEvery?: number;
}

/**
 * Cuts a raw RGB24 byte stream into exact frames. Pipe chunks (64 KiB) never align with frames:
 * bytes are copied into the current pooled buffer until it is full. When the pool is exhausted the
 * frame's bytes are skipped and `onDrop` is called, so memory stays bounded.
 */
export class FrameSplitter {
  readonly frameSize: number;
  private readonly pool: BufferPool;
  private current: Buffer | null = null;
  private filled = 0;
  private skipping = false;
  private startedAt = 0;
  seq: number;
  private readonly now: () => number;

  constructor(
    private readonly opts: SplitterOptions,
    private readonly onFrame: (f: Frame) => void,
    /** A frame skipped (pool exhausted), by its sequence number. */
    private readonly onDrop: (seq: number) => void = () => {},
  ) {
    this.frameSize = opts.width * opts.height * 3;
    // Holders: inference slot + in flight, recognition slot + in flight, encoder running + waiting, the
    // newest frame kept for live enrollment, one being cut: 12 leaves headroom.
    this.pool = new BufferPool(this.frameSize, opts.poolSize ?? 12);
    this.seq = opts.firstSeq ?? 0;
    this.now = opts.now ?? Date.now;
  }

  /** Bytes of a partial frame waiting for the rest. */
  get pending(): number {
    return this.filled;
  }

  get buffersInUse(): number {
    return this.pool.inUse;
  }

  push(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) {
      if (this.filled === 0) {
        this.startedAt = performance.now();
        this.current = this.pool.acquire();
        this.skipping = this.current === null;
      }
      const n = Math.min(this.frameSize - this.filled, chunk.length - off);
      if (this.current) chunk.copy(this.current, this.filled, off, off + n);
      this.filled += n;
      off += n;
      if (this.filled === this.frameSize) this.complete();
    }
  }

  /** Drops a partial frame (after a disconnect: the next ffmpeg starts at a frame boundary). */
  reset(): void {
    if (this.current) this.pool.give(this.current);
    this.current = null;
    this.filled = 0;
    this.skipping = false;
  }

  private complete(): void {
    const seq = this.seq++;
    const pixels = this.current;
    this.current = null;
    this.filled = 0;
    if (this.skipping || !pixels) {
      this.skipping = false;
      this.onDrop(seq);
      return;
    }
    const frame = pooledFrame(this.pool, {
      streamId: this.opts.streamId,
      seq,
      captureTs: this.now(),
      width: this.opts.width,
      height: this.opts.height,
      pixels,
      readSeconds: (performance.now() - this.startedAt) / 1000,
      ...(this.opts.detectEvery
        ? { detectDue: (seq - (this.opts.firstSeq ?? 0)) % this.opts.detectEvery === 0 }
        : {}),
    });
    try {
      this.onFrame(frame);
    } finally {
      frame.release();
    }
  }
}
