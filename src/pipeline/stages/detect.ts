/**
 * detect: the primary detector (DeepStream's pgie). Frames due for inference are batched across
 * streams (one latest-wins slot per stream) and come out as fresh contexts carrying their
 * detections; frames due for display pass at once, carrying the stream's latest detections.
 */
import { Observable } from 'rxjs';
import { z } from 'zod';
import { DETECTOR_KEYS } from '../../faces/detect/settings.js';
import type { Detection } from '../../inference/contract.js';
import type { Frame } from '../../sources/frame.js';
import { type BatchRunner, CrossStreamBatcher } from '../batcher.js';
import { type FrameContext, forkContext, releaseContext } from '../context.js';
import { registerStage, type StageContext, service } from '../stage.js';

// Every key can be set per camera too (streams[].detect in the config): the camera's value wins.
export const DetectSchema = z
  .object({
    model: DETECTOR_KEYS.model.default('blazeface'),
    minScore: DETECTOR_KEYS.minScore.default(0.6),
    iouThreshold: DETECTOR_KEYS.iouThreshold.default(0.3),
    maxFaces: DETECTOR_KEYS.maxFaces.default(50),
    minSizePx: DETECTOR_KEYS.minSizePx.default(0),
    tiles: DETECTOR_KEYS.tiles.default(1),
  })
  .strict();
export type DetectStageConfig = z.output<typeof DetectSchema>;

declare module '../stage.js' {
  interface StageConfigMap {
    detect: DetectStageConfig;
  }
}

/** The batched detector the inference module provides (service "detector"). */
export type Detector = BatchRunner<Frame, Detection[]>;

interface Job {
  streamId: string;
  seq: number;
  ctx: FrameContext;
}

function detectOperator(cfg: DetectStageConfig, ctx: StageContext, closing: Array<Promise<void>>) {
  const detector = service<Detector>(ctx, 'detector', 'detect');
  const { metrics, batching } = ctx;
  return (source: Observable<FrameContext>) =>
    new Observable<FrameContext>((sub) => {
      const latest = new Map<string, { seq: number; detections: Detection[] }>();
      let stopped = false;
      const batcher = new CrossStreamBatcher<Job, Detection[]>(
        {
          idle: () => detector.idle(),
          whenIdle: () => detector.whenIdle(),
          run: (jobs) => detector.run(jobs.map((j) => j.ctx.frame)),
        },
        {
          ...batching,
          onDrop: (job, reason, err) => {
            metrics.drop(job.streamId, reason);
            if (err && !stopped)
              ctx.log.warn(`inference failed for ${job.streamId}#${job.seq}: ${err.message}`);
            releaseContext(job.ctx);
          },
          onPending: (n) => metrics.inferencePending.set(n),
        },
        (r) => {
          const c = r.frame.ctx;
          if (stopped) return releaseContext(c);
          const stream = c.stream;
          metrics.framesProcessed.inc({ stream });
          metrics.stageDuration.observe({ stage: 'queue_wait', stream }, r.queueMs / 1000);
          metrics.stageDuration.observe({ stage: 'inference', stream }, r.batchMs / r.batchSize / 1000);
          metrics.detections.inc({ stream, model: cfg.model }, r.result.length);
          latest.set(stream, { seq: c.frame.seq, detections: r.result });
          Object.assign(c, { fresh: true, display: false, detections: r.result, detectionSeq: c.frame.seq });
          sub.next(c);
        },
      );
      const s = source.subscribe({
        next: (c) => {
          if (c.display) {
            const last = latest.get(c.stream);
            const shown = c.infer ? forkContext(c, { infer: false }) : c;
            shown.detections = last?.detections ?? [];
            shown.detectionSeq = last?.seq ?? null;
            sub.next(shown);
          }
          if (c.infer) batcher.offer({ streamId: c.stream, seq: c.frame.seq, ctx: c });
        },
        error: (e) => sub.error(e),
        complete: () => sub.complete(),
      });
      return () => {
        stopped = true;
        s.unsubscribe();
        batcher.close();
        closing.push(batcher.settled());
      };
    });
}

registerStage({
  kind: 'detect',
  summary:
    'Detects faces on frames due for inference (detectFps), batched across streams; a camera may override any key (streams[].detect)',
  phase: 'analyze',
  infers: true,
  schema: DetectSchema,
  create: (cfg, ctx) => {
    // batches in flight at unsubscribe still hold frames: close() waits for them
    const closing: Array<Promise<void>> = [];
    return {
      operator: detectOperator(cfg, ctx, closing),
      close: async () => void (await Promise.all(closing)),
    };
  },
});
