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
      "Overlapping square tiles along the frame's long side, rows to cover the short side, each run at the model's input size, plus the whole frame (1 = whole frame only): about n - (n-1)/4 times more detector pixels per face, n columns x rows times the cost. BlazeFace (256 input) finds faces from about 12 input px: tiles >= 0.6 * frame long side / (256 / smallest face px) - docs/accuracy.md 'Small faces'.",
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
