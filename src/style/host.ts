/**
 * Style nets on the inference pool (src/inference/host.ts): a typed facade over the pool's style
 * task (style-task.ts). `stylize` sends a frame (shared, not copied) to an idle worker, or queues
 * it; the worker returns the stylised frame blended at each requested strength. A request for a
 * style whose files are missing or corrupt fails with an error naming the file, and later requests
 * for it fail at once (the stream stays unstyled). The facade either uses a pool that also serves
 * other tasks (the service: one pool for detection, recognition and style) or starts its own.
 */
import type { TaskEntry } from '../inference/task.js';
import { InferenceHost } from '../inference/host.js';
import type { EngineSettings } from '../inference/protocol.js';
import type { BackendPreference } from '../inference/tfjs-engine.js';
import type { RgbImage } from '../util/rgb.js';

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
  onnx?: EngineSettings['onnx'];
}

export interface StyleRequest {
  /** The style's folder. */
  dir: string;
  /** Temporal smoothing state is kept per key (one per stream). */
  smoothingKey?: string;
  smoothing?: number;
  /** Blends with the original to return, 1 = stylised (default [1]). */
  strengths?: number[];
}

declare module '../inference/task.js' {
  interface TaskTypes {
    style: {
      spec: Record<string, never>;
      request: StyleRequest;
      /** One picture per requested strength, in order. */
      result: { pixels: Uint8Array[] };
      event: StyleEngineReport;
    };
  }
}

/** The style task for a pool's task list; its engine follows inference.models.style, else inference.engine. */
export function styleTask(): TaskEntry<'style'> {
  return { kind: 'style', module: 'style/style-task.js', spec: {} };
}

export interface StyleHostOptions {
  /** A pool whose tasks include styleTask(); absent: the facade starts its own with `workers`. */
  pool?: InferenceHost;
  workers?: number;
  backend?: BackendPreference;
  engines?: StyleEngineSettings;
  log?: (m: string) => void;
  onEngine?: (r: StyleEngineReport) => void;
}

export class StyleHost {
  readonly pool: InferenceHost;
  private readonly own: boolean;
  private readonly off: () => void;
  /** Per style: how its engine was chosen (reported by the first worker that ran it). */
  readonly engines = new Map<string, StyleEngineReport>();

  constructor(private readonly opts: StyleHostOptions) {
    this.own = !opts.pool;
    const e = opts.engines;
    this.pool =
      opts.pool ??
      new InferenceHost({
        workers: opts.workers ?? 1,
        backend: opts.backend ?? 'auto',
        tasks: [styleTask()],
        engines: e?.onnx && e.engine !== 'tfjs' ? { engine: e.engine, models: {}, onnx: e.onnx } : undefined,
        log: opts.log,
      });
    if (!this.pool.tasks.includes('style')) throw new Error('style host: the pool has no style task');
    this.off = this.pool.onEvent('style', (r) => this.reported(r));
  }

  async start(): Promise<void> {
    if (this.own) await this.pool.start();
  }

  /** The workers' tfjs backend. */
  get backend(): string {
    return this.pool.backend;
  }

  get idle(): number {
    return this.pool.idle;
  }

  /**
   * Stylises an RGB24 frame with the style in `dir`, blended at each of `strengths` (default [1]).
   * The frame must stay unchanged until the promise settles (it is shared with the worker).
   */
  async stylize(
    dir: string,
    frame: RgbImage,
    opts: Omit<StyleRequest, 'dir'> = {},
  ): Promise<{ pixels: Uint8Array[]; ms: number }> {
    const r = await this.pool.run('style', [frame], { dir, ...opts });
    return { pixels: r.result.pixels, ms: r.ms };
  }

  async close(): Promise<void> {
    this.off();
    if (this.own) await this.pool.close();
  }

  private reported(r: StyleEngineReport): void {
    if (this.engines.has(r.style)) return;
    this.engines.set(r.style, r);
    const t = r.timings
      ? `, ${r.timings.onnx.toFixed(1)} ms onnx vs ${r.timings.tfjs.toFixed(1)} ms tfjs per 256x144`
      : '';
    this.opts.log?.(
      `style ${r.style}: ${r.engine}${r.backend ? `/${r.backend}` : ''}${t}${r.reason ? ` (${r.reason})` : ''}`,
    );
    this.opts.onEngine?.(r);
  }
}
