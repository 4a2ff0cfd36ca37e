import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { formatIssues } from '../config/load.js';
import { PROJECT_ROOT } from '../inference/model-loader.js';

const DetectStage = z
  .object({
    model: z.string().default('blazeface'),
    minScore: z.number().min(0).max(1).default(0.6),
    iouThreshold: z.number().min(0).max(1).default(0.3),
    maxFaces: z.number().int().min(1).max(1000).default(50),
    minSizePx: z.number().min(0).default(0),
    /** Square tiles along the frame's long side (1 = whole frame): more pixels for small, distant faces. */
    tiles: z.number().int().min(1).max(8).default(1),
  })
  .strict();
const RecognizeStage = z
  .object({
    model: z.string().default('faceres'),
    /** Warp faces by their keypoints (similarity transform) instead of a box crop. */
    align: z.boolean().default(false),
    /** Crop context around the face (1 = tight). */
    context: z.number().min(0.8).max(3).default(1.3),
    /** A projection head trained by `vigil learn triplet` (models/heads/NAME); docs/learning.md. */
    head: z.string().min(1).optional(),
    /** Cosine-similarity threshold; default: the calibrated one in models/thresholds.yaml. */
    threshold: z.number().min(-1).max(1).optional(),
    minFacePx: z.number().min(0).default(24),
    maxFacesPerFrame: z.number().int().min(1).max(64).default(8),
    topK: z.number().int().min(1).max(100).default(5),
    /** Tracker: IoU to continue a track, ms unseen before it ends, ms between re-recognitions. */
    iouThreshold: z.number().min(0).max(1).default(0.3),
    maxAgeMs: z.number().min(100).default(1500),
    refreshMs: z.number().min(100).default(3000),
  })
  .strict();
const AlertStage = z
  .object({
    persons: z.union([z.literal('all'), z.array(z.string().min(1))]).default('all'),
    unknown: z.boolean().default(true),
    cooldownSeconds: z.number().min(0).default(60),
  })
  .strict();
const StyleStage = z
  .object({
    /** The style viewers get until they pick one (a folder of models/styles), or "none". */
    default: z.string().default('none'),
    /** Blend with the original: 1 = fully stylised. Viewers may choose their own. */
    strength: z.number().min(0).max(1).default(1),
    /** Temporal smoothing on still scenes (0 = off): cuts frame-to-frame flicker (docs/style.md). */
    smoothing: z.number().min(0).max(0.95).default(0.6),
    /** Style workers (worker_threads with their own tfjs wasm backend). */
    workers: z.number().int().min(1).max(16).default(1),
  })
  .strict();
export type StyleStageConfig = z.infer<typeof StyleStage>;
const AnnotateStage = z.object({ landmarks: z.boolean().default(true) }).strict();
const EncodeStage = z.object({ format: z.literal('jpeg').default('jpeg') }).strict();

const Stage = z.union([
  z.object({ detect: DetectStage.default(DetectStage.parse({})) }).strict(),
  z.object({ recognize: RecognizeStage.default(RecognizeStage.parse({})) }).strict(),
  z.object({ alert: AlertStage.default(AlertStage.parse({})) }).strict(),
  z.object({ style: StyleStage.default(StyleStage.parse({})) }).strict(),
  z.object({ annotate: AnnotateStage.default(AnnotateStage.parse({})) }).strict(),
  z.object({ encode: EncodeStage.default(EncodeStage.parse({})) }).strict(),
]);

export const PipelineSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9_-]+$/),
    description: z.string().optional(),
    stages: z.array(Stage).min(1),
  })
  .strict()
  .superRefine((p, ctx) => {
    const kinds = p.stages.map((s) => Object.keys(s)[0]);
    if (kinds.at(-1) !== 'encode')
      ctx.addIssue({ code: 'custom', path: ['stages'], message: 'the last stage must be encode' });
    const firstDisplay = kinds.findIndex((k) => k === 'annotate' || k === 'encode');
    kinds.forEach((k, i) => {
      if (k === 'detect' && i > firstDisplay)
        ctx.addIssue({
          code: 'custom',
          path: ['stages', i],
          message: 'inference stages (detect) must come before annotate/encode',
        });
    });
  });

export type PipelineDefinition = z.infer<typeof PipelineSchema>;
export type DetectStageConfig = z.infer<typeof DetectStage>;
export type RecognizeStageConfig = z.infer<typeof RecognizeStage>;
export type AlertStageConfig = z.infer<typeof AlertStage>;

/** The plan the graph builder needs: which inference to run, and what to do per displayed frame. */
export interface PipelinePlan {
  name: string;
  detect?: DetectStageConfig;
  recognize?: RecognizeStageConfig;
  alert?: AlertStageConfig;
  style?: StyleStageConfig;
  annotate?: z.infer<typeof AnnotateStage>;
}

export function planOf(def: PipelineDefinition): PipelinePlan {
  const plan: PipelinePlan = { name: def.name };
  for (const s of def.stages) {
    if ('detect' in s) plan.detect = s.detect;
    if ('recognize' in s) plan.recognize = s.recognize;
    if ('alert' in s) plan.alert = s.alert;
    if ('style' in s) plan.style = s.style;
    if ('annotate' in s) plan.annotate = s.annotate;
  }
  return plan;
}

/** Loads pipelines/<name>.yaml (or a path to a YAML file) and validates it. */
export function loadPipeline(nameOrPath: string): PipelineDefinition {
  const file =
    nameOrPath.endsWith('.yaml') || nameOrPath.includes('/')
      ? nameOrPath
      : join(PROJECT_ROOT, 'pipelines', `${nameOrPath}.yaml`);
  if (!existsSync(file)) throw new Error(`pipeline: no definition "${nameOrPath}" (looked for ${file})`);
  const res = PipelineSchema.safeParse(parseYaml(readFileSync(file, 'utf8')));
  if (!res.success)
    throw new Error(
      `invalid pipeline definition ${file}:\n${formatIssues(res.error)
        .map((l) => `  - ${l}`)
        .join('\n')}`,
    );
  return res.data;
}
