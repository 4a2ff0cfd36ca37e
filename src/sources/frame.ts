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
  /**
   * Set by sources that choose the detection frames themselves (those with a full-resolution
   * output pair one with every K-th frame): this frame is due for detection, or not. Absent: the
   * pipeline's rate gate decides.
   */
  readonly detectDue?: boolean;
  /**
   * The same picture at full resolution (streams[].embedFrom), on its own pooled shared buffer:
   * faces are cut from it for embedding and snapshots while detection runs on this frame. Held,
   * and given back, with this frame.
   */
  readonly full?: FullFrame;
  /** Pairs the full-resolution picture with this frame; `give` hands it back when this frame is released. */
  attachFull(full: FullFrame, give: () => void): void;
  /** Keep the frame beyond the synchronous call that handed it to you. */
  retain(): Frame;
  /** Give the frame back; its buffer returns to the pool when nobody holds it. */
  release(): void;
}

/**
 * A frame's full-resolution picture. Both come from one letterboxed picture (the detect frame is this
 * one scaled down, whole), so a point maps exactly: full x = frame x * scaleX.
 */
export interface FullFrame extends RgbImage {
  readonly scaleX: number;
  readonly scaleY: number;
}

/**
 * The picture faces are cut from (embedding, snapshots): the frame's full-resolution picture when it
 * has one, else the frame; with `face` (detect-frame pixels) mapped into that picture's pixels.
 */
export function faceSource<
  F extends { box: [number, number, number, number]; landmarks: Array<[number, number]> },
>(frame: Frame, face: F): { image: RgbImage; face: F } {
  const full = frame.full;
  if (!full) return { image: frame, face };
  const { scaleX: sx, scaleY: sy } = full;
  const [x1, y1, x2, y2] = face.box;
  return {
    image: full,
    face: {
      ...face,
      box: [x1 * sx, y1 * sy, x2 * sx, y2 * sy],
      landmarks: face.landmarks.map(([x, y]) => [x * sx, y * sy]),
    },
  };
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
export function pooledFrame(
  pool: BufferPool,
  init: Omit<Frame, 'retain' | 'release' | 'attachFull' | 'full'>,
): Frame {
  let refs = 1;
  let full: { image: FullFrame; give: () => void } | undefined;
  const frame: Frame = {
    ...init,
    get full() {
      return full?.image;
    },
    attachFull(image, give) {
      if (refs <= 0) throw new Error(`frame ${init.streamId}#${init.seq} given a full frame after release`);
      if (full) throw new Error(`frame ${init.streamId}#${init.seq} has a full frame already`);
      full = { image, give };
    },
    retain() {
      if (refs <= 0) throw new Error(`frame ${init.streamId}#${init.seq} retained after release`);
      refs++;
      return frame;
    },
    release() {
      if (refs <= 0) throw new Error(`frame ${init.streamId}#${init.seq} released twice`);
      if (--refs === 0) {
        pool.give(init.pixels);
        full?.give();
        full = undefined;
      }
    },
  };
  return frame;
}
