/**
 * The style module of the running service: the styles viewers may pick (shipped and the data
 * directory's), the style task on the service's inference pool, engine reports as metrics, and the
 * styler the style stage calls.
 */
import type { StyleInfo } from '../defs/ws.js';
import { join } from 'node:path';
import type { InferenceHost } from '../inference/host.js';
import type { Logger } from '../log.js';
import type { VigilMetrics } from '../metrics/metrics.js';
import type { RgbImage } from '../util/rgb.js';
import { StyleHost } from './host.js';
import { listStyles, loadStyleDir, STYLES_DIR } from './store.js';
import { defaultTrainContent, StyleTrainingJobs, type TrainingEvent } from './training-jobs.js';

/** The styles there are (name -> folder); a default that is not among them stops start-up. */
export function findStyles(dataDir: string, defaultStyle: string, pipeline: string): Map<string, string> {
  const styles = listStyles([STYLES_DIR, join(dataDir, 'styles')]);
  if (defaultStyle !== 'none' && !styles.has(defaultStyle))
    throw new Error(
      `pipeline ${pipeline}: stages.style.default: unknown style "${defaultStyle}" (available: ${[...styles.keys()].join(', ') || 'none'})`,
    );
  return styles;
}

/** Reads each style's manifest: a style whose files are broken is listed with its error. */
export function describeStyles(styles: Map<string, string>): StyleInfo[] {
  return [...styles].map(([name, dir]) => {
    try {
      const m = loadStyleDir(dir).manifest;
      return {
        name,
        painting: m.painting,
        arch: m.archName,
        params: m.params,
        thumbnail: `/api/styles/${name}/thumbnail.jpg`,
      };
    } catch (e) {
      return { name, error: (e as Error).message };
    }
  });
}

export class StyleService {
  readonly host: StyleHost;
  /** The styles as the page lists them (read at start-up, and again when one is trained). */
  list: StyleInfo[];
  /** Trainings started from the page; their styles go to <dataDir>/styles. */
  readonly training: StyleTrainingJobs;
  private readonly trainingListeners = new Set<(e: TrainingEvent) => void>();

  constructor(
    pool: InferenceHost,
    readonly styles: Map<string, string>,
    private readonly opts: {
      metrics: VigilMetrics;
      log: Logger;
      smoothing: number;
      dataDir: string;
      /** True while the live pipeline needs the CPU (a training pauses). */
      busy?: () => boolean;
    },
  ) {
    const { metrics, log } = opts;
    const host: StyleHost = new StyleHost({
      pool,
      log: (m) => log.info(m),
      onEngine: (r) => {
        const model = `style:${r.style}`;
        metrics.modelEngine.set({ model, engine: r.engine, backend: r.backend ?? host.backend }, 1);
        for (const [engine, ms] of Object.entries(r.timings ?? {}))
          metrics.engineTiming.set({ model, engine }, ms / 1000);
        if (r.fallback) {
          metrics.engineFallbacks.inc({ model });
          log.warn({ style: r.style, reason: r.reason }, 'style runs on tfjs: ONNX Runtime could not run it');
        }
      },
    });
    this.host = host;
    this.list = describeStyles(styles);
    this.training = new StyleTrainingJobs({
      root: join(opts.dataDir, 'styles'),
      content: defaultTrainContent(),
      taken: (name) => this.styles.has(name),
      busy: opts.busy,
      log: (m) => log.info(m),
      onEvent: (e) => {
        if (e.type === 'style') this.addStyle(e.name, e.dir);
        for (const f of this.trainingListeners) f(e);
      },
    });
  }

  /** A style trained here joins the list every camera's picker shows. */
  private addStyle(name: string, dir: string): void {
    this.styles.set(name, dir);
    this.list = describeStyles(this.styles);
    this.opts.log.info({ style: name, dir }, 'style trained from the page');
  }

  /** Training progress and new styles (for the viewers); returns the unsubscribe. */
  onTraining(f: (e: TrainingEvent) => void): () => void {
    this.trainingListeners.add(f);
    return () => this.trainingListeners.delete(f);
  }

  /**
   * The style stage's styler: a frame of `stream` stylised at the strengths its viewers want (the
   * stage asks once per style and frame); the frame is shared with the worker, not copied.
   */
  styler(): (stream: string, style: string, frame: RgbImage, strengths: number[]) => Promise<Uint8Array[]> {
    return async (stream, style, frame, strengths) => {
      const dir = this.styles.get(style);
      if (!dir) throw new Error(`unknown style "${style}"`);
      const r = await this.host.stylize(dir, frame, {
        smoothingKey: stream,
        smoothing: this.opts.smoothing,
        strengths,
      });
      this.opts.metrics.styleFrames.inc({ stream, style });
      return r.pixels;
    };
  }

  async close(): Promise<void> {
    await this.training.close();
    return this.host.close();
  }
}
