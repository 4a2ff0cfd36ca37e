/**
 * Detect small, embed big (streams[].embedFrom): one ffmpeg decode, split into the small detection
 * frames (stdout, every frame) and a full-resolution picture of every K-th frame (the ones detected)
 * on a unix socket. Both branches scale one letterboxed picture, the small one whole, so boxes map
 * exactly by a factor per axis. The full pictures sit in their own bounded pool (fullFrames) and are
 * attached to their detect frame, released with it.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StreamConfig } from '../config/schema.js';
import type { FfmpegInvocation } from './ffmpeg.js';
import type { Frame } from './frame.js';
import { FrameSplitter } from './frame-splitter.js';

/** The full-resolution output of one stream: its size, and every how many decoded frames one comes. */
export interface FullResPlan {
  width: number;
  height: number;
  /** A full picture (and a detection) on every `every`-th decoded frame. */
  every: number;
}

/** `auto` uses the full picture only when the source has at least this many times the detect size. */
export const AUTO_MIN_SCALE = 1.5;

const even = (v: number) => Math.max(2, Math.round(v / 2) * 2);

/**
 * The full-resolution plan of a stream, or null (faces are cut from the detect frame). `source` is
 * the source's size (probed; needed by `auto`, which stays on the detect frame without it).
 */
export function fullResPlan(
  s: Pick<StreamConfig, 'width' | 'height' | 'embedFrom' | 'fullWidth' | 'detectFps' | 'displayFps'>,
  source?: { width: number; height: number },
): FullResPlan | null {
  if (s.embedFrom === 'detect') return null;
  let width = s.fullWidth;
  if (s.embedFrom === 'auto') {
    if (!source) return null;
    // source pixels per detect-frame pixel of its letterboxed picture
    const scale = Math.max(source.width / s.width, source.height / s.height);
    if (scale < AUTO_MIN_SCALE) return null;
    width = Math.min(s.fullWidth, even(s.width * scale));
  }
  const every = Math.max(1, Math.round(Math.max(s.detectFps, s.displayFps) / s.detectFps));
  return { width, height: even((width * s.height) / s.width), every };
}

/** The size of the first video stream of ffmpeg's input banner, e.g. "Video: h264 ..., 1920x1080 [SAR". */
export function parseVideoSize(stderr: string): { width: number; height: number } | undefined {
  const m = /Stream #\d+:\d+.*?: Video: .*?, (\d{2,5})x(\d{2,5})(?=[,\s[]|$)/m.exec(stderr);
  return m ? { width: Number(m[1]), height: Number(m[2]) } : undefined;
}

/**
 * The source's video size, from `ffmpeg -i` on the stream's input (its own connection, once per
 * stream: reconnects reuse it); undefined when ffmpeg could not open it or named no size in time.
 */
export function probeVideoSize(
  ffmpegPath: string,
  inv: Pick<FfmpegInvocation, 'input' | 'inputOptions'>,
  timeoutMs: number,
  /** The stream stopped: the probe is killed. */
  signal?: AbortSignal,
): Promise<{ width: number; height: number } | undefined> {
  // pacing and looping options only slow the probe down
  const opts: string[] = [];
  for (let i = 0; i < inv.inputOptions.length; i++) {
    const o = inv.inputOptions[i] as string;
    if (o === '-re') continue;
    if (o === '-stream_loop') i++;
    else opts.push(o);
  }
  return new Promise((resolve) => {
    const p = spawn(ffmpegPath, ['-hide_banner', '-nostdin', ...opts, '-i', inv.input], {
      stdio: ['ignore', 'ignore', 'pipe'],
      signal,
      killSignal: 'SIGKILL',
    });
    let err = '';
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.length > 65536) err = err.slice(-65536);
    });
    p.on('error', () => resolve(undefined));
    p.on('close', () => {
      clearTimeout(timer);
      resolve(parseVideoSize(err));
    });
  });
}

/**
 * Receives the full pictures of one ffmpeg run: a unix socket in a private (0700) directory that
 * takes ffmpeg's one connection, cut into frames of the plan's size in a pool of `poolSize`.
 */
export class FullFrameReceiver {
  readonly url: string;
  private readonly dir: string;
  private readonly server: Server;
  private socket: Socket | undefined;
  readonly splitter: FrameSplitter;

  constructor(
    streamId: string,
    plan: FullResPlan,
    poolSize: number,
    onFrame: (f: Frame) => void,
    onDrop: (index: number) => void,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'vigil-full-'));
    this.url = `unix:${join(this.dir, 'full.sock')}`;
    this.splitter = new FrameSplitter(
      { streamId, width: plan.width, height: plan.height, poolSize, firstSeq: 0 },
      onFrame,
      onDrop,
    );
    this.server = createServer((s) => {
      if (this.socket) return void s.destroy();
      this.socket = s;
      this.server.close(); // one ffmpeg, one connection
      s.on('data', (chunk: Buffer) => this.splitter.push(chunk));
      s.on('error', () => {
        // ffmpeg killed: its exit reports the disconnect
      });
    });
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.url.slice('unix:'.length), () => resolve());
    });
  }

  get buffersInUse(): number {
    return this.splitter.buffersInUse;
  }

  close(): void {
    this.socket?.destroy();
    this.server.close();
    this.splitter.reset();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Pairs each detect frame due for detection (index % every === 0) with full picture index / every,
 * whichever arrives first (two pipes: either may be read first), and hands frames on in decode
 * order. A due frame waits for its full picture at most `maxWaiting` frames; a full picture that
 * was dropped (its pool exhausted) lets its frame go on without one.
 */
export class FullFramePairer {
  /** Detect frames in decode order, held while the first of them waits for its full picture. */
  private readonly queue: Array<{ frame: Frame; index: number }> = [];
  private readonly arrived = new Map<number, Frame>();
  private readonly dropped = new Set<number>();
  /** Full picture indices below this were handed on (or given up). */
  private nextFull = 0;

  constructor(
    private readonly every: number,
    private readonly emit: (f: Frame) => void,
    private readonly maxWaiting = 8,
  ) {}

  onFrame(frame: Frame, index: number): void {
    this.queue.push({ frame: frame.retain(), index });
    this.flush();
  }

  onFull(full: Frame): void {
    if (full.seq < this.nextFull) return; // its frame went on without it
    this.arrived.set(full.seq, full.retain());
    this.flush();
  }

  onFullDropped(index: number): void {
    if (index >= this.nextFull) this.dropped.add(index);
    this.flush();
  }

  /** Frames held now (tests: 0 after a reset). */
  get held(): number {
    return this.queue.length + this.arrived.size;
  }

  private flush(): void {
    while (this.queue.length) {
      const head = this.queue[0] as { frame: Frame; index: number };
      if (head.index % this.every === 0) {
        const k = head.index / this.every;
        const full = this.arrived.get(k);
        const waiting = !full && !this.dropped.has(k) && this.queue.length <= this.maxWaiting;
        if (waiting) return;
        this.arrived.delete(k);
        this.passed(k + 1);
        if (full) {
          const scaleX = full.width / head.frame.width;
          const scaleY = full.height / head.frame.height;
          head.frame.attachFull(
            { width: full.width, height: full.height, pixels: full.pixels, scaleX, scaleY },
            () => full.release(),
          );
        }
      }
      this.queue.shift();
      try {
        this.emit(head.frame);
      } finally {
        head.frame.release();
      }
    }
  }

  /** Full pictures below `next` will never be paired (their frames were dropped or went on): given back. */
  private passed(next: number): void {
    this.nextFull = next;
    for (const [k, f] of this.arrived)
      if (k < next) {
        this.arrived.delete(k);
        f.release();
      }
    for (const k of this.dropped) if (k < next) this.dropped.delete(k);
  }

  /** Gives back every held frame (a disconnect: the next ffmpeg starts its indices at 0). */
  reset(): void {
    for (const q of this.queue.splice(0)) q.frame.release();
    for (const f of this.arrived.values()) f.release();
    this.arrived.clear();
    this.dropped.clear();
    this.nextFull = 0;
  }
}
