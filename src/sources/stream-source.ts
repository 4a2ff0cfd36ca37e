import type { ChildProcess } from 'node:child_process';
import { PassThrough } from 'node:stream';
import ffmpeg from 'fluent-ffmpeg';
import { BehaviorSubject, type Observable, Subject } from 'rxjs';
import type { ReconnectConfig, StreamConfig } from '../config/schema.js';
import type { StreamStateName } from '../metrics/metrics.js';
import { redactSecrets, urlSecrets } from '../util/redact-url.js';
import { buildInvocation, type FfmpegInfo } from './ffmpeg.js';
import type { Frame } from './frame.js';
import { FrameSplitter } from './frame-splitter.js';
import {
  FullFramePairer,
  FullFrameReceiver,
  type FullResPlan,
  fullResPlan,
  probeVideoSize,
} from './full-res.js';

/** The embedded demo's pictures are 1280x720 before the output scale (ffmpeg.ts). */
const DEMO_SIZE = { width: 1280, height: 720 };

export type DisconnectCause = 'exit' | 'error' | 'watchdog';

export interface StreamStatus {
  id: string;
  state: StreamStateName;
  /** ms epoch of the last state change. */
  since: number;
  /** Consecutive failed attempts (reset by the first frame). */
  attempts: number;
  /** The last problem, in words (ffmpeg's own message where it gave one). */
  lastError?: string;
  /** Delay before the next attempt, when retrying. */
  retryInMs?: number;
  framesDecoded: number;
  lastFrameTs?: number;
  /** The full-resolution picture faces are cut from (embedFrom), when the stream has one. */
  fullRes?: { width: number; height: number; every: number };
}

/** Capped exponential backoff with +-20% jitter; attempt counts from 1. */
export function backoffDelay(
  attempt: number,
  r: ReconnectConfig,
  random: () => number = Math.random,
): number {
  const base = Math.min(r.maxMs, r.initialMs * r.factor ** Math.max(0, attempt - 1));
  return Math.round(Math.min(r.maxMs, base * (0.8 + 0.4 * random())));
}

/** ffmpeg's most telling stderr line: the last one that names an error, else the last one. */
export function summarizeStderr(lines: string[]): string | undefined {
  const meaningful = lines.filter(
    (l) => l.trim() && !/^\s*(frame=|size=|Press \[q\]|Stream mapping|Output #|Input #|\s{2})/.test(l),
  );
  const err = [...meaningful]
    .reverse()
    .find((l) =>
      /error|invalid|refused|not found|failed|denied|timed out|no such|unauthorized|404|401/i.test(l),
    );
  return (err ?? meaningful.at(-1))?.trim();
}

const children = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(p: ChildProcess | undefined): void {
  if (!p) return;
  children.add(p);
  p.once('exit', () => children.delete(p));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of children) c.kill('SIGKILL');
    });
  }
}
/** ffmpeg processes alive right now (tests check that none is orphaned). */
export function liveFfmpegPids(): number[] {
  return [...children].map((c) => c.pid).filter((p): p is number => typeof p === 'number');
}

export interface SourceEvents {
  onFrame?: (f: Frame) => void;
  onDisconnect?: (cause: DisconnectCause, message: string | undefined) => void;
  onPoolDrop?: () => void;
  /** A full-resolution picture was skipped (its pool exhausted): that frame's faces are cut from it. */
  onFullPoolDrop?: () => void;
  /**
   * The source's picture size if known from elsewhere (cluster mode: the camera's previous
   * holder probed it), so `embedFrom: auto` starts without probing the source first.
   */
  knownSize?: () => { width: number; height: number } | undefined;
  /** The source's size was probed here (cluster mode: shared with the other nodes). */
  onProbed?: (size: { width: number; height: number }) => void;
}

/**
 * One stream: runs ffmpeg, cuts its stdout into frames, and keeps it alive. Every ffmpeg exit (code 0
 * too: a killed RTSP server makes ffmpeg end normally) and every watchdog expiry (no frame for
 * `watchdogSeconds`) is a disconnect, followed by a reconnect after a capped exponential backoff.
 */
export class StreamSource {
  private readonly status$: BehaviorSubject<StreamStatus>;
  private readonly frames = new Subject<Frame>();
  private cmd: ffmpeg.FfmpegCommand | undefined;
  private generation = 0;
  private splitter: FrameSplitter;
  private retryTimer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private lastActivity = 0;
  private stopped = true;
  private stderrTail: string[] = [];
  /** The password (and secret query values) of the stream's URL, hidden in every message. */
  private readonly secrets: string[];
  /** The full-resolution plan; undefined until known (auto: until a probe named the source's size). */
  private plan: FullResPlan | null | undefined;
  private full: { receiver: FullFrameReceiver; pairer: FullFramePairer } | undefined;
  /** The latest attempt's receiver, kept after it closed: its pool counts buffers still held downstream. */
  private lastReceiver: FullFrameReceiver | undefined;
  /** Aborted by stop(): kills a source probe still running. */
  private stopping = new AbortController();

  constructor(
    readonly config: StreamConfig,
    private readonly ff: FfmpegInfo,
    private readonly events: SourceEvents = {},
  ) {
    this.status$ = new BehaviorSubject<StreamStatus>({
      id: config.id,
      state: 'stopped',
      since: Date.now(),
      attempts: 0,
      framesDecoded: 0,
    });
    this.splitter = this.newSplitter(0);
    this.secrets = urlSecrets(config.url);
  }

  get id(): string {
    return this.config.id;
  }

  /** Frames as they are decoded. Hot; a subscriber that keeps a frame must retain() it. */
  get frames$(): Observable<Frame> {
    return this.frames.asObservable();
  }

  /** connecting / live / retrying / failed / stopped, with the last error. */
  get state$(): Observable<StreamStatus> {
    return this.status$.asObservable();
  }

  get status(): StreamStatus {
    return this.status$.value;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.stopping = new AbortController();
    this.connect();
  }

  /** Kills ffmpeg and stops reconnecting; resolves when the process is gone. */
  async stop(): Promise<void> {
    await this.suspend();
    this.frames.complete();
  }

  /**
   * Like stop, but `start` may run it again for the same subscribers (cluster mode: a camera whose
   * lease moved to another node, and may come back).
   */
  async suspend(): Promise<void> {
    this.stopped = true;
    // late output and events of the attempt running now are ignored, and an ffmpeg that
    // fluent-ffmpeg spawns only after this (it spawns asynchronously) is killed at its start
    this.generation++;
    this.stopping.abort();
    clearTimeout(this.retryTimer);
    clearInterval(this.watchdog);
    const proc = this.process;
    this.kill();
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      await new Promise<void>((resolve) => {
        proc.once('exit', () => resolve());
        setTimeout(resolve, 3000).unref();
      });
    }
    // started again meanwhile (a lease regained): its state and pictures are the new connection's
    if (this.stopped) {
      this.closeFull();
      this.setState('stopped');
    }
  }

  /** Frame buffers held now, detect and full-resolution (0 once stopped and every holder released). */
  get buffersInUse(): { detect: number; full: number } {
    return { detect: this.splitter.buffersInUse, full: this.lastReceiver?.buffersInUse ?? 0 };
  }

  /** The running ffmpeg, if any. */
  get process(): ChildProcess | undefined {
    return (this.cmd as unknown as { ffmpegProc?: ChildProcess } | undefined)?.ffmpegProc;
  }

  private newSplitter(firstSeq: number, plan?: FullResPlan | null): FrameSplitter {
    const { id, width, height } = this.config;
    const pairer = this.full?.pairer;
    return new FrameSplitter(
      { streamId: id, width, height, firstSeq, detectEvery: plan?.every },
      pairer ? (f) => pairer.onFrame(f, f.seq - firstSeq) : (f) => this.onFrame(f),
      () => this.events.onPoolDrop?.(),
    );
  }

  /** The full-resolution plan: once known it stays (reconnects skip the probe). */
  private async resolvePlan(): Promise<FullResPlan | null> {
    if (this.plan !== undefined) return this.plan;
    const c = this.config;
    let source: { width: number; height: number } | undefined;
    if (c.embedFrom === 'auto')
      source = c.demo ? DEMO_SIZE : (this.events.knownSize?.() ?? (await this.probe()));
    const plan = fullResPlan(c, source);
    if (c.embedFrom !== 'auto' || source) this.plan = plan; // a failed probe is tried again next time
    return plan;
  }

  private async probe(): Promise<{ width: number; height: number } | undefined> {
    const c = this.config;
    const size = await probeVideoSize(
      this.ff.path,
      buildInvocation(c, this.ff),
      c.socketTimeoutSeconds * 1000 + 5000,
    );
    if (size) this.events.onProbed?.(size);
    return size;
  }

  private openFull(plan: FullResPlan): FullFrameReceiver {
    const pairer = new FullFramePairer(plan.every, (f) => this.onFrame(f));
    const receiver = new FullFrameReceiver(
      this.config.id,
      plan,
      this.config.fullFrames,
      (f) => pairer.onFull(f),
      (index) => {
        this.events.onFullPoolDrop?.();
        pairer.onFullDropped(index);
      },
    );
    this.full = { receiver, pairer };
    this.lastReceiver = receiver;
    return receiver;
  }

  private closeFull(): void {
    this.full?.pairer.reset();
    this.full?.receiver.close();
    this.full = undefined;
  }

  private setState(state: StreamStateName, patch: Partial<StreamStatus> = {}): void {
    const prev = this.status$.value;
    this.status$.next({
      ...prev,
      ...patch,
      state,
      since: prev.state === state ? prev.since : Date.now(),
      ...(state !== 'retrying' ? { retryInMs: undefined } : {}),
    });
  }

  private connect(): void {
    if (this.stopped) return;
    const gen = ++this.generation;
    this.stderrTail = [];
    this.setState('connecting');
    this.armWatchdog(gen);
    if (this.config.embedFrom === 'detect') {
      this.spawn(gen, null);
      return;
    }
    this.resolvePlan()
      .then(async (plan) => {
        if (gen !== this.generation || this.stopped) return;
        const receiver = plan ? this.openFull(plan) : undefined;
        await receiver?.listen();
        if (gen !== this.generation || this.stopped) return;
        this.spawn(gen, plan);
      })
      .catch((e: Error) => this.disconnect(gen, 'error', `full-resolution output: ${e.message}`));
  }

  /** Runs ffmpeg for attempt `gen`: detect frames on stdout, full pictures (with a plan) to the receiver. */
  private spawn(gen: number, plan: FullResPlan | null): void {
    this.splitter = this.newSplitter(this.splitter.seq, plan);
    this.setState('connecting', { fullRes: plan ?? undefined });
    const inv = buildInvocation(this.config, this.ff, plan);
    const cmd = ffmpeg(inv.input)
      .setFfmpegPath(this.ff.path)
      .inputOptions(['-hide_banner', '-nostdin', '-loglevel', 'error', ...inv.inputOptions])
      .on('start', () => {
        const proc = (cmd as unknown as { ffmpegProc?: ChildProcess }).ffmpegProc;
        track(proc);
        if (gen !== this.generation) proc?.kill('SIGKILL'); // suspended or stopped meanwhile
      })
      .on('stderr', (line: string) => {
        this.stderrTail.push(line);
        if (this.stderrTail.length > 20) this.stderrTail.shift();
      })
      .on('error', (err: Error) => this.onExit(gen, 'error', err.message))
      .on('end', () => this.onExit(gen, 'exit', undefined));
    if (inv.fullOutputOptions && this.full)
      cmd.outputOptions(inv.fullOutputOptions).output(this.full.receiver.url);
    const out = new PassThrough();
    cmd.output(out).outputOptions(inv.outputOptions);
    this.cmd = cmd;
    cmd.run();
    out.on('data', (chunk: Buffer) => {
      if (gen === this.generation) this.splitter.push(chunk);
    });
    out.on('error', () => {
      // broken pipe after a kill: the 'error'/'end' of the command reports the disconnect
    });
  }

  /** Attempt `gen` is a disconnect after watchdogSeconds without a frame (connectTimeoutSeconds before the first). */
  private armWatchdog(gen: number): void {
    this.lastActivity = Date.now();
    clearInterval(this.watchdog);
    const limitMs = this.config.watchdogSeconds * 1000;
    const connectMs = Math.max(limitMs, this.config.connectTimeoutSeconds * 1000);
    this.watchdog = setInterval(
      () => {
        if (gen !== this.generation || this.stopped) return;
        const live = this.status$.value.state === 'live';
        if (Date.now() - this.lastActivity > (live ? limitMs : connectMs)) {
          this.disconnect(
            gen,
            'watchdog',
            live
              ? `no frame for ${this.config.watchdogSeconds} s`
              : `no first frame within ${connectMs / 1000} s`,
          );
        }
      },
      Math.min(1000, limitMs / 4),
    );
    this.watchdog.unref();
  }

  private onFrame(f: Frame): void {
    this.lastActivity = Date.now();
    const s = this.status$.value;
    if (s.state !== 'live') this.setState('live', { attempts: 0, lastError: s.lastError });
    this.status$.value.framesDecoded++;
    this.status$.value.lastFrameTs = f.captureTs;
    this.events.onFrame?.(f);
    this.frames.next(f);
  }

  private kill(): void {
    const p = this.process;
    if (p && p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  }

  private onExit(gen: number, cause: DisconnectCause, message: string | undefined): void {
    if (gen !== this.generation) return; // an ffmpeg we already gave up on
    let msg = summarizeStderr(this.stderrTail) ?? message;
    if (cause === 'exit') msg = msg ? `ffmpeg ended: ${msg}` : 'ffmpeg ended (stream closed by the source)';
    else if (msg && /SIGKILL/.test(msg)) msg = undefined;
    this.disconnect(gen, cause, msg ?? message);
  }

  private disconnect(gen: number, cause: DisconnectCause, rawMessage: string | undefined): void {
    if (gen !== this.generation) return;
    // ffmpeg quotes the input URL in its errors: hidden here, before the message reaches the
    // status (API, viewers' hello/status, tile text), the disconnect event and the logs
    const message = rawMessage === undefined ? undefined : redactSecrets(rawMessage, this.secrets);
    this.generation++; // late events of this ffmpeg are ignored from now on
    clearInterval(this.watchdog);
    this.kill();
    this.splitter.reset();
    this.closeFull();
    if (this.stopped) return;
    this.events.onDisconnect?.(cause, message);
    const attempts = this.status$.value.attempts + 1;
    const lastError = message ?? this.status$.value.lastError;
    const { maxAttempts } = this.config.reconnect;
    if (maxAttempts > 0 && attempts >= maxAttempts) {
      this.setState('failed', { attempts, lastError });
      return;
    }
    const delay = backoffDelay(attempts, this.config.reconnect);
    this.setState('retrying', { attempts, lastError, retryInMs: delay });
    this.retryTimer = setTimeout(() => this.connect(), delay);
    this.retryTimer.unref();
  }
}
