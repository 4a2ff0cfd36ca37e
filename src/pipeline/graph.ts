import { filter, merge, type Subscription } from 'rxjs';
import type { OutputConfig, StreamConfig } from '../config/schema.js';
import type { Detection } from '../inference/contract.js';
import type { VigilMetrics } from '../metrics/metrics.js';
import { annotate, LabelCache } from '../output/annotate.js';
import { encodeJpeg } from '../output/encode.js';
import type { FrameHeader } from '../output/ws-hub.js';
import { decodeFps } from '../sources/ffmpeg.js';
import type { Frame } from '../sources/frame.js';
import { type BatchRunner, batchAcrossStreams } from './batcher.js';
import type { PipelinePlan } from './definition.js';
import { latestWinsMap, rateGate } from './operators.js';

/** Where encoded frames go (the WebSocket hub). */
export interface FramePublisher {
  hasSubscribers(stream: string): boolean;
  publish(header: FrameHeader, jpeg: Buffer): number;
}

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
              const t0 = performance.now();
              const ann = o.output.burnIn && dets.length ? o.plan.annotate : undefined;
              const burn = ann !== undefined;
              const pixels = ann
                ? await annotate(
                    f.pixels,
                    f.width,
                    f.height,
                    ann.landmarks ? dets : dets.map((d) => ({ ...d, landmarks: [] })),
                    labels,
                  )
                : f.pixels;
              const jpeg = await encodeJpeg(pixels, f.width, f.height, o.output.jpegQuality);
              metrics.stageDuration.observe({ stage: 'encode', stream: id }, (performance.now() - t0) / 1000);
              const header: FrameHeader = {
                type: 'frame',
                stream: id,
                seq: f.seq,
                captureTs: f.captureTs,
                sentTs: Date.now(),
                width: f.width,
                height: f.height,
                detections: dets,
                detectionSeq: det?.seq ?? null,
                annotated: burn,
              };
              const t1 = performance.now();
              const n = o.publisher.publish(header, jpeg);
              metrics.stageDuration.observe({ stage: 'send', stream: id }, (performance.now() - t1) / 1000);
              if (n > 0) {
                metrics.framesSent.inc({ stream: id });
                metrics.captureToSend.observe({ stream: id }, (Date.now() - f.captureTs) / 1000);
              }
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
