/**
 * The detector's settings, one definition for the detect stage (pipelines/*.yaml, with defaults)
 * and for a camera's overrides (streams[].detect in the config, every key optional): a distant
 * CCTV camera wants tiles and a face-size floor that a close webcam does not.
 */
import { z } from 'zod';

/** The models the detect task can decode (models/manifest.yaml). */
export const DETECTOR_MODELS: readonly string[] = ['blazeface'];

export const DETECTOR_KEYS = {
  model: z.string().min(1).describe('Detector model (models/manifest.yaml).'),
  minScore: z.number().min(0).max(1).describe('Minimum detector score of a face.'),
  iouThreshold: z.number().min(0).max(1).describe('Non-maximum suppression overlap.'),
  maxFaces: z.number().int().min(1).max(1000).describe('At most this many faces per frame.'),
  minSizePx: z.number().min(0).describe('Faces narrower than this (frame pixels) are ignored.'),
  tiles: z
    .number()
    .int()
    .min(1)
    .max(8)
    .describe(
      "Overlapping square tiles (a quarter overlap) along the frame's long side, rows to cover the short side, plus the whole frame; 1 = whole frame only. A face of F px gets F * 256 * (0.75n + 0.25) / long side px of BlazeFace input: it finds about 2/3 of faces at 16 input px, 9 in 10 at 24 (docs/accuracy.md, Small faces); e.g. 820x460 with 16 px faces: 4 (13 inputs a frame). Set per camera with streams[].detect.",
    ),
} as const;

/** A camera's own detector settings (streams[].detect): any subset of the detect stage's keys. */
export const DetectOverrideSchema = z
  .object({
    model: DETECTOR_KEYS.model.optional(),
    minScore: DETECTOR_KEYS.minScore.optional(),
    iouThreshold: DETECTOR_KEYS.iouThreshold.optional(),
    maxFaces: DETECTOR_KEYS.maxFaces.optional(),
    minSizePx: DETECTOR_KEYS.minSizePx.optional(),
    tiles: DETECTOR_KEYS.tiles.optional(),
  })
  .strict()
  .describe("This camera's detector settings, over the pipeline's detect stage (same keys).");
export type DetectOverride = z.output<typeof DetectOverrideSchema>;
