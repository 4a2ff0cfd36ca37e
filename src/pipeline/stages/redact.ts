/**
 * redact: hides faces in the video sent to viewers (privacy, GDPR-style deployments): every face,
 * only faces that are not recognised as an enrolled person, or every face but the people listed.
 * Faces not yet recognised count as unknown, so a stranger is never shown while being identified.
 * Only the pictures for viewers change; alerts, snapshots and enrollment see the original frame.
 */
import { z } from 'zod';
import type { FrameContext, TrackedDetection } from '../context.js';
import { rendersOf, writablePixels } from '../context.js';
import { registerStage } from '../stage.js';

export const RedactSchema = z
  .object({
    faces: z
      .enum(['all', 'unknown', 'except'])
      .default('all')
      .describe(
        'all: every face; unknown: faces not recognised as an enrolled person; except: all but `keep`.',
      ),
    keep: z
      .array(z.string().min(1))
      .default([])
      .describe('With faces: except, the people whose faces stay visible.'),
    effect: z
      .enum(['pixelate', 'fill'])
      .default('pixelate')
      .describe('pixelate (blocks of blockPx) or fill (flat grey).'),
    blockPx: z
      .number()
      .int()
      .min(2)
      .max(64)
      .default(12)
      .describe('Block side for pixelate, in frame pixels.'),
    padding: z
      .number()
      .min(0)
      .max(1)
      .default(0.15)
      .describe('Grow each face box by this fraction of its size on every side (hair, ears).'),
  })
  .strict()
  .refine((c) => c.faces !== 'except' || c.keep.length > 0, {
    message: 'faces: except needs at least one name in keep',
    path: ['keep'],
  });
export type RedactStageConfig = z.output<typeof RedactSchema>;

declare module '../stage.js' {
  interface StageConfigMap {
    redact: RedactStageConfig;
  }
}

/** Whether a face is hidden under `cfg`. */
export function hides(cfg: RedactStageConfig, d: TrackedDetection): boolean {
  const named = d.label !== undefined && d.label !== 'unknown' && d.personId !== null;
  if (cfg.faces === 'all') return true;
  if (cfg.faces === 'unknown') return !named;
  return !(named && cfg.keep.includes(d.label as string));
}

type Rect = [number, number, number, number];

/** The padded box, clipped to the frame, in whole pixels; null when nothing is left. */
export function redactRect(box: Rect, w: number, h: number, padding: number): Rect | null {
  const pw = (box[2] - box[0]) * padding;
  const ph = (box[3] - box[1]) * padding;
  const x1 = Math.max(0, Math.floor(box[0] - pw));
  const y1 = Math.max(0, Math.floor(box[1] - ph));
  const x2 = Math.min(w, Math.ceil(box[2] + pw));
  const y2 = Math.min(h, Math.ceil(box[3] + ph));
  return x2 > x1 && y2 > y1 ? [x1, y1, x2, y2] : null;
}

/** Replaces each block of the rectangle by its mean colour (or grey for fill), in place. */
export function obscure(
  rgb: Uint8Array,
  w: number,
  r: Rect,
  effect: 'pixelate' | 'fill',
  block: number,
): void {
  const [x1, y1, x2, y2] = r;
  for (let by = y1; by < y2; by += block) {
    for (let bx = x1; bx < x2; bx += block) {
      const ex = Math.min(x2, bx + block);
      const ey = Math.min(y2, by + block);
      const mean = effect === 'fill' ? [128, 128, 128] : blockMean(rgb, w, bx, by, ex, ey);
      for (let y = by; y < ey; y++) {
        let o = (y * w + bx) * 3;
        for (let x = bx; x < ex; x++, o += 3) {
          rgb[o] = mean[0] as number;
          rgb[o + 1] = mean[1] as number;
          rgb[o + 2] = mean[2] as number;
        }
      }
    }
  }
}

function blockMean(rgb: Uint8Array, w: number, x1: number, y1: number, x2: number, y2: number): number[] {
  let r = 0;
  let g = 0;
  let b = 0;
  for (let y = y1; y < y2; y++) {
    let o = (y * w + x1) * 3;
    for (let x = x1; x < x2; x++, o += 3) {
      r += rgb[o] as number;
      g += rgb[o + 1] as number;
      b += rgb[o + 2] as number;
    }
  }
  const n = (x2 - x1) * (y2 - y1);
  return [Math.round(r / n), Math.round(g / n), Math.round(b / n)];
}

function redactRenderer(cfg: RedactStageConfig) {
  return (c: FrameContext) => {
    const { width: w, height: h } = c.frame;
    const rects = c.detections
      .filter((d) => hides(cfg, d))
      .map((d) => redactRect(d.box, w, h, cfg.padding))
      .filter((r): r is Rect => r !== null);
    if (!rects.length) return;
    for (const render of rendersOf(c)) {
      // copy on write: the frame itself is shared with recognition, alerts and enrollment
      const px = writablePixels(render);
      for (const r of rects) obscure(px, w, r, cfg.effect, cfg.blockPx);
    }
  };
}

registerStage({
  kind: 'redact',
  summary: 'Pixelates faces in the video sent to viewers: all, unknown only, or all but listed people',
  phase: 'render',
  schema: RedactSchema,
  create: (cfg) => ({ render: redactRenderer(cfg) }),
});
