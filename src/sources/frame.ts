import type { RgbImage } from '../util/rgb.js';

/** One decoded picture: RGB24, row-major, no padding. */
export interface Frame extends RgbImage {
  readonly streamId: string;
  /** Per-stream sequence number, from 0, never reset by reconnects. */
  readonly seq: number;
  /** Wall-clock ms (epoch) when the frame's last byte left ffmpeg. */
  readonly captureTs: number;
  readonly width: number;
  readonly height: number;
  /**
   * width * height * 3 bytes on a SharedArrayBuffer (workers read it in place, no copy); valid, and
   * unchanged, until the last holder calls release(). Whoever hands it to a worker holds it until
   * the worker's answer.
   */
  readonly pixels: Buffer;
  /** Seconds spent reading this frame from the pipe (first to last byte). */
  readonly readSeconds: number;
  /** Keep the frame beyond the synchronous call that handed it to you. */
  retain(): Frame;
  /** Give the frame back; its buffer returns to the pool when nobody holds it. */
  release(): void;
}

/**
 * A bounded pool of equally-sized buffers, each on its own SharedArrayBuffer so frames cross to
 * worker threads without a copy. `acquire` returns null when every buffer is held (the caller drops
 * the frame and counts it): memory stays bounded whatever downstream does.
 */
export class BufferPool {
  private readonly free: Buffer[] = [];
  private created = 0;

  constructor(
    readonly bufferSize: number,
    readonly capacity: number,
  ) {}

  acquire(): Buffer | null {
    const b = this.free.pop();
    if (b) return b;
    if (this.created >= this.capacity) return null;
    this.created++;
    return Buffer.from(new SharedArrayBuffer(this.bufferSize));
  }

  give(b: Buffer): void {
    if (b.length === this.bufferSize && this.free.length < this.capacity) this.free.push(b);
  }

  get inUse(): number {
    return this.created - this.free.length;
  }
}

/** A reference-counted frame whose buffer goes back to `pool`. */
export function pooledFrame(pool: BufferPool, init: Omit<Frame, 'retain' | 'release'>): Frame {
  let refs = 1;
  const frame: Frame = {
    ...init,
    retain() {
      if (refs <= 0) throw new Error(`frame ${init.streamId}#${init.seq} retained after release`);
      refs++;
      return frame;
    },
    release() {
      if (refs <= 0) throw new Error(`frame ${init.streamId}#${init.seq} released twice`);
      if (--refs === 0) pool.give(init.pixels);
    },
  };
  return frame;
}
