import { filter, merge, type Subscription } from 'rxjs';
import type { OutputConfig, StreamConfig } from '../config/schema.js';
import type { Detection } from '../inference/contract.js';
import type { VigilMetrics } from '../metrics/metrics.js';
import { annotate, LabelCache } from '../output/annotate.js';
import { encodeJpeg } from '../output/encode.js';
import { blend } from '../style/runner.js';
import { type FrameHeader, PLAIN, type Variant } from '../output/ws-hub.js';
import { decodeFps } from '../sources/ffmpeg.js';
import type { Frame } from '../sources/frame.js';
import { type BatchRunner, batchAcrossStreams } from './batcher.js';
import type { PipelinePlan } from './definition.js';
import { latestWinsMap, rateGate } from './operators.js';

/** Where encoded frames go (the WebSocket hub). */
export interface FramePublisher {
  hasSubscribers(stream: string): boolean;
  /** Renderings wanted for a stream (absent: the original video only). */
  variants?(stream: string): Variant[];
  publish(header: FrameHeader, jpeg: Buffer, variant?: string): number;
}

/** Stylises a frame of a stream (pipelines with a style stage); rejects when the style cannot run. */
export type Styler = (stream: string, style: string, frame: Frame) => Promise<Uint8Array>;

export interface GraphSource {
  config: StreamConfig;
  frames$: import('rxjs').Observable<Frame>;
}

export interface GraphOptions {
  plan: PipelinePlan;
  /** Runs on each detection result while its frame is held (tracking + recognition); returns what is drawn. */
  postDetect?: (frame: Frame, detections: Detection[]) => Detection[];
  sources: GraphSource[];
  /** Batched detector (absent for pipelines without an inference stage). */
  detector?: BatchRunner<Frame, Detection[]>;
  modelName?: string;
  publisher: FramePublisher;
  metrics: VigilMetrics;
  output: OutputConfig;
  maxBatch: number;
  maxWaitMs: number;
  /** Style stage: computes one stylised frame per (stream, style). */
  styler?: Styler;
  log?: (msg: string) => void;
}

export interface DetectionState {
  seq: number;
  captureTs: number;
  detections: Detection[];
}

export interface RunningGraph {
  /** Latest detections per stream. */
  latest: Map<string, DetectionState>;
  stop(): void;
}

const retain = (f: Frame) => void f.retain();
const release = (f: Frame) => f.release();

/**
 * Builds the RxJS graph of a pipeline over its sources. Per stream, frames due for detection go to
 * one cross-stream batcher (latest-frame-wins slots, maxBatch / maxWaitMs); frames due for display
 * are annotated with the stream's latest detections, encoded (latest-frame-wins again) and
 * published. Every dropped frame is counted with its reason.
 */
export function buildGraph(o: GraphOptions): RunningGraph {
  const { metrics } = o;
  const latest = new Map<string, DetectionState>();
  const subs: Subscription[] = [];
  const labels = new LabelCache();
  let stopped = false;

  if (o.plan.detect && o.detector) {
    const model = o.modelName ?? 'detector';
    const due = o.sources.map((s) => {
      const gate = rateGate(s.config.detectFps, decodeFps(s.config));
      return s.frames$.pipe(filter((f) => gate(f.captureTs)));
    });
    subs.push(
      merge(...due)
        .pipe(
          batchAcrossStreams(o.detector, {
            maxBatch: o.maxBatch,
            maxWaitMs: o.maxWaitMs,
            retain,
            release,
            onDrop: (f, reason, err) => {
              metrics.drop(f.streamId, reason);
              if (err && !stopped) o.log?.(`inference failed for ${f.streamId}#${f.seq}: ${err.message}`);
            },
            onPending: (n) => metrics.inferencePending.set(n),
          }),
        )
        .subscribe((r) => {
          const stream = r.frame.streamId;
          metrics.framesProcessed.inc({ stream });
          metrics.stageDuration.observe({ stage: 'queue_wait', stream }, r.queueMs / 1000);
          metrics.stageDuration.observe({ stage: 'inference', stream }, r.batchMs / r.batchSize / 1000);
          metrics.detections.inc({ stream, model }, r.result.length);
          const detections = o.postDetect ? o.postDetect(r.frame, r.result) : r.result;
          latest.set(stream, { seq: r.frame.seq, captureTs: r.frame.captureTs, detections });
        }),
    );
  }

  const styleFailures = new Set<string>();
  /** Renders one variant of a frame (style, annotation, JPEG) and publishes it to the viewers who want it. */
  const render = async (
    f: Frame,
    id: string,
    dets: Detection[],
    detectionSeq: number | null,
    v: Variant,
  ): Promise<number> => {
    const t0 = performance.now();
    let pixels: Uint8Array = f.pixels;
    let style: string | null = null;
    if (v.style !== null && o.styler) {
      try {
        const styled = await o.styler(id, v.style, f);
        pixels = blend(f.pixels, styled, v.strength);
        style = v.style;
        metrics.stageDuration.observe({ stage: 'style', stream: id }, (performance.now() - t0) / 1000);
      } catch (e) {
        metrics.styleErrors.inc({ stream: id, style: v.style });
        // the stream keeps running unstyled; the reason is logged once per style
        if (!styleFailures.has(v.style)) {
          styleFailures.add(v.style);
          o.log?.(`style "${v.style}" failed on ${id}, sending unstyled frames: ${(e as Error).message}`);
        }
      }
    }
    const t1 = performance.now();
    const ann = o.output.burnIn && dets.length ? o.plan.annotate : undefined;
    const burn = ann !== undefined;
    const drawn = ann
      ? await annotate(
          pixels,
          f.width,
          f.height,
          ann.landmarks ? dets : dets.map((d) => ({ ...d, landmarks: [] })),
          labels,
        )
      : pixels;
    const jpeg = await encodeJpeg(drawn, f.width, f.height, o.output.jpegQuality);
    metrics.stageDuration.observe({ stage: 'encode', stream: id }, (performance.now() - t1) / 1000);
    const header: FrameHeader = {
      type: 'frame',
      stream: id,
      seq: f.seq,
      captureTs: f.captureTs,
      sentTs: Date.now(),
      width: f.width,
      height: f.height,
      detections: dets,
      detectionSeq,
      annotated: burn,
      ...(o.styler ? { style, strength: style ? v.strength : 0 } : {}),
    };
    const t2 = performance.now();
    const n = o.publisher.publish(header, jpeg, v.key);
    metrics.stageDuration.observe({ stage: 'send', stream: id }, (performance.now() - t2) / 1000);
    if (n > 0) {
      metrics.framesSent.inc({ stream: id });
      metrics.captureToSend.observe({ stream: id }, (Date.now() - f.captureTs) / 1000);
    }
    return n;
  };

  for (const s of o.sources) {
    const id = s.config.id;
    const gate = rateGate(s.config.displayFps, decodeFps(s.config));
    subs.push(
      s.frames$
        .pipe(
          filter((f) => gate(f.captureTs) && o.publisher.hasSubscribers(id)),
          latestWinsMap(
            async (f: Frame) => {
              const det = latest.get(id);
              const dets = det?.detections ?? [];
              const variants = o.styler ? (o.publisher.variants?.(id) ?? [PLAIN]) : [PLAIN];
              let n = 0;
              for (const v of variants) n += await render(f, id, dets, det?.seq ?? null, v);
              return n;
            },
            {
              retain,
              release,
              onDrop: () => metrics.drop(id, 'encode_busy'),
              onError: (e, f) => o.log?.(`encode failed for ${id}#${f.seq}: ${e.message}`),
            },
          ),
        )
        .subscribe(),
    );
  }

  return {
    latest,
    stop: () => {
      stopped = true;
      for (const s of subs) s.unsubscribe();
    },
  };
}
