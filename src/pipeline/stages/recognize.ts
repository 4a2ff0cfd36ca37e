/**
 * recognize: the secondary model over tracked faces (DeepStream's tracker + sgie). Fresh
 * detections are tracked and labelled; a face is embedded once per track (and refreshed) and
 * matched against the gallery; each decision comes out as a context carrying Recognitions for the
 * alert stage. Display frames carry the stream's latest labelled detections.
 */
import { Observable } from 'rxjs';
import { z } from 'zod';
import type { Gallery } from '../../faces/gallery/gallery.js';
import { DEFAULT_EVIDENCE } from '../../faces/outcome.js';
import { type Embedder, Recognizer } from '../../faces/recognizer.js';
import type { UnknownStore } from '../../faces/unknowns/store.js';
import { contextOf, type FrameContext, releaseContext, type TrackedDetection } from '../context.js';
import { registerStage, type StageContext, service } from '../stage.js';

export const RecognizeSchema = z
  .object({
    model: z.string().default('faceres').describe('Embedding model (models/manifest.yaml).'),
    align: z
      .boolean()
      .default(false)
      .describe('Warp faces by their keypoints (similarity transform) instead of a box crop.'),
    context: z.number().min(0.8).max(3).default(1.3).describe('Crop context around the face (1 = tight).'),
    head: z
      .string()
      .min(1)
      .optional()
      .describe('A projection head trained by `vigil learn triplet` (models/heads/NAME); docs/learning.md.'),
    threshold: z
      .number()
      .min(-1)
      .max(1)
      .optional()
      .describe('Cosine-similarity threshold; default: the calibrated one in models/thresholds.yaml.'),
    minFacePx: z
      .number()
      .min(0)
      .default(24)
      .describe('Faces narrower than this (frame pixels) are tracked, not recognised.'),
    maxFacesPerFrame: z
      .number()
      .int()
      .min(1)
      .max(64)
      .default(8)
      .describe('At most this many faces of one frame are embedded in one go (largest first).'),
    topK: z.number().int().min(1).max(100).default(5).describe('Gallery matches kept per face (best first).'),
    iouThreshold: z.number().min(0).max(1).default(0.3).describe('Tracker: IoU to continue a track.'),
    maxAgeMs: z.number().min(100).default(1500).describe('Tracker: ms unseen before a track ends.'),
    refreshMs: z
      .number()
      .min(100)
      .default(3000)
      .describe('Tracker: ms between re-recognitions of a known track.'),
    qualityGain: z
      .number()
      .min(1)
      .default(1.5)
      .describe('Re-recognise sooner when face area x score grew by this factor.'),
    unknownRefreshMs: z
      .number()
      .min(0)
      .default(150)
      .describe(
        'Tracker: ms before a track not named yet (at most 3 unknown looks) is looked at again; below 1000/detectFps: the next detection (time to name, docs/accuracy.md).',
      ),
    voteMinFacePx: z
      .number()
      .min(0)
      .default(DEFAULT_EVIDENCE.voteMinFacePx)
      .describe(
        'Faces narrower than this (frame px) are embedded and shown but do not vote (docs/accuracy.md).',
      ),
    maxPose: z
      .number()
      .min(0)
      .default(DEFAULT_EVIDENCE.maxPose)
      .describe(
        "Looks turned further than this do not vote: nose off the eyes' midpoint in quarter face widths (0 frontal, ~1 profile).",
      ),
    minMargin: z
      .number()
      .min(0)
      .max(1)
      .default(DEFAULT_EVIDENCE.minMargin)
      .describe('A look counts for a name only this far (cosine) above the next person.'),
    nameLooks: z
      .number()
      .int()
      .min(1)
      .max(20)
      .default(DEFAULT_EVIDENCE.nameLooks)
      .describe('Good looks that must agree on a person (by the margin) before the track is named.'),
    strongMargin: z
      .number()
      .min(0)
      .max(2)
      .default(DEFAULT_EVIDENCE.strongMargin)
      .describe('One good look this far above the threshold names the track at once.'),
    unknownLooks: z
      .number()
      .int()
      .min(1)
      .max(20)
      .default(DEFAULT_EVIDENCE.unknownLooks)
      .describe('Good looks matching nobody, each below threshold - nearMiss, before a track is unknown.'),
    nearMiss: z
      .number()
      .min(0)
      .max(1)
      .default(DEFAULT_EVIDENCE.nearMiss)
      .describe(
        'A look this close below the threshold is a near miss: the track stays uncertain, not unknown.',
      ),
  })
  .strict();
export type RecognizeStageConfig = z.output<typeof RecognizeSchema>;

declare module '../stage.js' {
  interface StageConfigMap {
    recognize: RecognizeStageConfig;
  }
}

/** What the faces module provides to the recognize and alert stages (service "faces"). */
export interface FacesService {
  gallery: Gallery;
  unknowns?: UnknownStore;
  /** The calibrated decision threshold of the recognition space. */
  threshold: number;
}

function recognizer(cfg: RecognizeStageConfig, ctx: StageContext, emit: (c: FrameContext) => void) {
  const faces = service<FacesService>(ctx, 'faces', 'recognize');
  return new Recognizer(
    {
      host: service<Embedder>(ctx, 'embedder', 'recognize'),
      model: cfg.model,
      gallery: faces.gallery,
      unknowns: faces.unknowns,
      metrics: ctx.metrics,
      onRecognitions: (frame, recognitions) => {
        const c = contextOf(frame, { display: false, infer: false });
        c.recognitions = recognitions;
        emit(c);
      },
      log: (m) => ctx.log.warn(m),
    },
    {
      threshold: cfg.threshold ?? faces.threshold,
      minFacePx: cfg.minFacePx,
      maxFacesPerFrame: cfg.maxFacesPerFrame,
      topK: cfg.topK,
      tracker: {
        iouThreshold: cfg.iouThreshold,
        maxAgeMs: cfg.maxAgeMs,
        refreshMs: cfg.refreshMs,
        qualityGain: cfg.qualityGain,
        unknownRefreshMs: cfg.unknownRefreshMs,
      },
      evidence: {
        voteMinFacePx: cfg.voteMinFacePx,
        maxPose: cfg.maxPose,
        minMargin: cfg.minMargin,
        nameLooks: cfg.nameLooks,
        strongMargin: cfg.strongMargin,
        unknownLooks: cfg.unknownLooks,
        nearMiss: cfg.nearMiss,
        window: DEFAULT_EVIDENCE.window,
      },
      ...ctx.batching,
    },
  );
}

function recognizeOperator(cfg: RecognizeStageConfig, ctx: StageContext, closing: Array<Promise<void>>) {
  return (source: Observable<FrameContext>) =>
    new Observable<FrameContext>((sub) => {
      const latest = new Map<string, { seq: number | null; detections: TrackedDetection[] }>();
      const rec = recognizer(cfg, ctx, (c) => (sub.closed ? releaseContext(c) : sub.next(c)));
      const s = source.subscribe({
        next: (c) => {
          if (c.fresh) {
            c.detections = rec.onDetections(c.frame, c.detections);
            latest.set(c.stream, { seq: c.detectionSeq, detections: c.detections });
          } else if (c.display) {
            const last = latest.get(c.stream);
            c.detections = last?.detections ?? [];
            c.detectionSeq = last?.seq ?? null;
          }
          sub.next(c);
        },
        error: (e) => sub.error(e),
        complete: () => sub.complete(),
      });
      return () => {
        s.unsubscribe();
        closing.push(rec.close());
      };
    });
}

registerStage({
  kind: 'recognize',
  summary: 'Tracks faces, embeds each track and names it against the gallery (one-shot recognition)',
  phase: 'analyze',
  schema: RecognizeSchema,
  create: (cfg, ctx) => {
    // embeds in flight at unsubscribe still hold frames: close() waits for them
    const closing: Array<Promise<void>> = [];
    return {
      operator: recognizeOperator(cfg, ctx, closing),
      close: async () => void (await Promise.all(closing)),
    };
  },
});
