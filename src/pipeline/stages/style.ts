/**
 * style: restyles displayed frames with a feed-forward style network. Each viewer picks a style
 * (or none) and a strength per stream; one stylised frame is computed per (stream, style, frame)
 * whatever the number of viewers, and each wanted strength is a render of its own.
 */
import { z } from 'zod';
import type { Frame } from '../../sources/frame.js';
import { blend } from '../../style/runner.js';
import type { FramePublisher } from '../../output/ws-hub.js';
import type { FrameContext, Render } from '../context.js';
import { registerStage, type StageContext, service } from '../stage.js';

export const StyleSchema = z
  .object({
    default: z
      .string()
      .default('none')
      .describe('The style viewers get until they pick one (a folder of models/styles), or "none".'),
    strength: z
      .number()
      .min(0)
      .max(1)
      .default(1)
      .describe('Blend with the original: 1 = fully stylised. Viewers may choose their own.'),
    smoothing: z
      .number()
      .min(0)
      .max(0.95)
      .default(0.6)
      .describe('Temporal smoothing on still scenes (0 = off): cuts frame-to-frame flicker (docs/style.md).'),
    workers: z
      .number()
      .int()
      .min(1)
      .max(16)
      .default(1)
      .describe('Style workers (worker_threads with their own engine).'),
  })
  .strict();
export type StyleStageConfig = z.output<typeof StyleSchema>;

declare module '../stage.js' {
  interface StageConfigMap {
    style: StyleStageConfig;
  }
}

/** Stylises a frame of a stream (service "styler"); rejects when the style cannot run. */
export type Styler = (stream: string, style: string, frame: Frame) => Promise<Uint8Array>;

function styleRenderer(ctx: StageContext) {
  const styler = service<Styler>(ctx, 'styler', 'style');
  const viewers = service<FramePublisher>(ctx, 'viewers', 'style');
  const failed = new Set<string>();
  const plain = (c: FrameContext, key: string): Render => ({
    key,
    style: null,
    strength: 0,
    pixels: c.frame.pixels,
    owned: false,
    annotated: false,
  });
  const one = async (c: FrameContext, v: { key: string; style: string | null; strength: number }) => {
    if (v.style === null) return plain(c, v.key);
    const t0 = performance.now();
    try {
      const styled = await styler(c.stream, v.style, c.frame);
      ctx.metrics.stageDuration.observe(
        { stage: 'style', stream: c.stream },
        (performance.now() - t0) / 1000,
      );
      const pixels = blend(c.frame.pixels, styled, v.strength);
      return {
        key: v.key,
        style: v.style,
        strength: v.strength,
        pixels,
        owned: pixels !== styled,
        annotated: false,
      };
    } catch (e) {
      ctx.metrics.styleErrors.inc({ stream: c.stream, style: v.style });
      // the stream keeps running unstyled; the reason is logged once per style
      if (!failed.has(v.style)) {
        failed.add(v.style);
        ctx.log.warn(
          `style "${v.style}" failed on ${c.stream}, sending unstyled frames: ${(e as Error).message}`,
        );
      }
      return plain(c, v.key);
    }
  };
  return async (c: FrameContext) => {
    const variants = viewers.variants?.(c.stream) ?? [{ key: 'plain', style: null, strength: 1 }];
    c.renders = [];
    for (const v of variants) c.renders.push(await one(c, v));
  };
}

registerStage({
  kind: 'style',
  summary: 'Restyles displayed frames with a trained style network, per viewer choice and strength',
  phase: 'render',
  schema: StyleSchema,
  create: (_cfg, ctx) => ({ render: styleRenderer(ctx) }),
});
