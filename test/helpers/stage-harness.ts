/**
 * A stage chain built by the real builder over a real inference host, fed one still picture as a
 * 5 fps stream: what the integration tests of single stages (recognize, alert, redact) share. The
 * chain gets the services the running app gives it (viewers, detector, and when asked the embedder
 * with a gallery and an alert store); what it sends to viewers and the alerts it fires are kept.
 */
import pino from 'pino';
import { Subject } from 'rxjs';
import { validateConfig } from '../../src/config/load.js';
import type { StreamConfig } from '../../src/config/schema.js';
import type { AlertStore, FaceAlert } from '../../src/faces/alerts.js';
import type { Gallery } from '../../src/faces/gallery/gallery.js';
import type { InferenceHost } from '../../src/inference/host.js';
import { VigilMetrics } from '../../src/metrics/metrics.js';
import type { FrameHeader, FramePublisher } from '../../src/output/ws-hub.js';
import { buildChain } from '../../src/pipeline/builder.js';
import type { TrackedDetection } from '../../src/pipeline/context.js';
import { parsePipeline } from '../../src/pipeline/definition.js';
import type { StageContext } from '../../src/pipeline/stage.js';
import { storeThenPublish } from '../../src/pipeline/stages/alert.js';
import { BufferPool, type Frame, pooledFrame } from '../../src/sources/frame.js';

export interface SentFrame {
  header: FrameHeader;
  jpeg: Buffer;
}

export interface StillRunOptions {
  host: InferenceHost;
  /** The chain, as a pipeline file writes it: `[{ detect: {} }, { encode: {} }]`. */
  stages: unknown[];
  /** The picture, RGB24 of width x height, sent as every frame. */
  pixels: Uint8Array;
  width: number;
  height: number;
  /** Pipeline name (in error messages). */
  pipeline: string;
  /** Stream id. Default "cam". */
  camera?: string;
  /** The recognize stage's gallery and threshold (service "faces"; also gives it the embedder). */
  faces?: { gallery: Gallery; threshold: number };
  /** The alert stage's store (service "alerts"); fired alerts are kept in `alerts`. */
  alertStore?: AlertStore;
  /** Most frames sent. */
  frames: number;
  /** Stop sending once this holds (checked before each frame). */
  until?: (sent: SentFrame[], seq: number) => boolean;
  /**
   * Capture times: "wall" (Date.now(), as a live source; alerts get today's time) or "seq" (seq x
   * 200 ms: 5 fps exactly whatever the machine's load). Default "seq".
   */
  clock?: 'wall' | 'seq';
  /** Wait this long after the last frame before stopping (an alert's snapshot is cut after it). */
  settleMs?: number;
}

export interface StillRun {
  sent: SentFrame[];
  alerts: FaceAlert[];
  metrics: VigilMetrics;
  /** The frames' pool: every frame is released once the chain stopped (`pool.inUse === 0`). */
  pool: BufferPool;
}

/** The services and settings a chain gets from the running app, on a real host. */
function stageContext(
  opts: StillRunOptions,
  output: StageContext['output'],
  sent: SentFrame[],
  fired: FaceAlert[],
): StageContext {
  const { host } = opts;
  const viewers: FramePublisher = {
    hasSubscribers: () => true,
    publish: (header, jpeg) => sent.push({ header, jpeg }),
  };
  const services = new Map<string, unknown>([
    ['viewers', viewers],
    [
      'detector',
      {
        idle: () => host.idle,
        whenIdle: () => host.whenIdle(),
        run: async (frames: Frame[]) => (await host.run('detect', frames)).result,
      },
    ],
  ]);
  if (opts.faces) {
    services.set('embedder', host);
    services.set('faces', opts.faces);
  }
  if (opts.alertStore)
    services.set(
      'alerts',
      storeThenPublish(opts.alertStore, (a: FaceAlert) => fired.push(a)),
    );
  return {
    pipeline: opts.pipeline,
    metrics: new VigilMetrics(),
    log: pino({ level: 'silent' }),
    output,
    batching: { maxBatch: 1, maxWaitMs: 1 },
    services,
  };
}

/** Streams the still picture through the chain (100 ms apart) and stops the chain. */
export async function runStill(opts: StillRunOptions): Promise<StillRun> {
  const sent: SentFrame[] = [];
  const fired: FaceAlert[] = [];
  const camera = opts.camera ?? 'cam';
  const cfg = validateConfig({ streams: [{ id: camera, lavfi: 'testsrc2', detectFps: 5, displayFps: 5 }] });
  const ctx = stageContext(opts, cfg.output, sent, fired);
  const frames$ = new Subject<Frame>();
  const chain = buildChain(parsePipeline({ name: opts.pipeline, stages: opts.stages }), ctx, {
    sources: [{ config: cfg.streams[0] as StreamConfig, frames$ }],
    watched: () => true,
  });
  const { width, height } = opts;
  const pool = new BufferPool(width * height * 3, 8);
  try {
    for (let seq = 0; seq < opts.frames && !opts.until?.(sent, seq); seq++) {
      const px = pool.acquire();
      if (!px) throw new Error('pool exhausted');
      px.set(opts.pixels);
      const captureTs = opts.clock === 'wall' ? Date.now() : seq * 200;
      const f = pooledFrame(pool, {
        streamId: camera,
        seq,
        captureTs,
        width,
        height,
        pixels: px,
        readSeconds: 0,
      });
      frames$.next(f);
      f.release();
      await new Promise((r) => setTimeout(r, 100));
    }
    if (opts.settleMs) await new Promise((r) => setTimeout(r, opts.settleMs));
  } finally {
    await chain.stop();
  }
  return { sent, alerts: fired, metrics: ctx.metrics, pool };
}

/** Every labelled detection sent to viewers, in order. */
export function labelledDetections(sent: SentFrame[]): TrackedDetection[] {
  return sent.flatMap((s) => s.header.detections as TrackedDetection[]).filter((d) => d.label !== undefined);
}
