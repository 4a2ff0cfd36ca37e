/**
 * annotate: burns boxes, keypoints and labels into the pictures sent to viewers when
 * output.burnIn is on (otherwise the page draws its overlay from the detections in the header).
 */
import { z } from 'zod';
import { drawDetections, LabelCache } from '../../output/annotate.js';
import type { FrameContext } from '../context.js';
import { rendersOf, writablePixels } from '../context.js';
import { registerStage, type StageContext } from '../stage.js';

export const AnnotateSchema = z
  .object({
    landmarks: z.boolean().default(true).describe("Draw the detector's keypoints too."),
  })
  .strict();
export type AnnotateStageConfig = z.output<typeof AnnotateSchema>;

declare module '../stage.js' {
  interface StageConfigMap {
    annotate: AnnotateStageConfig;
  }
}

function annotateRenderer(cfg: AnnotateStageConfig, ctx: StageContext) {
  const labels = new LabelCache();
  return async (c: FrameContext) => {
    if (!ctx.output.burnIn || !c.detections.length) return;
    const dets = cfg.landmarks ? c.detections : c.detections.map((d) => ({ ...d, landmarks: [] }));
    const { width: w, height: h } = c.frame;
    for (const r of rendersOf(c)) {
      await drawDetections(writablePixels(r), w, h, dets, labels);
      r.annotated = true;
    }
  };
}

registerStage({
  kind: 'annotate',
  summary: 'Draws boxes, keypoints and names into the video when output.burnIn is set',
  phase: 'render',
  schema: AnnotateSchema,
  create: (cfg, ctx) => ({ render: annotateRenderer(cfg, ctx) }),
});
