/**
 * style: restyles displayed frames with a feed-forward style network. Each viewer picks a style
 * (or none) and a strength per stream; one stylised frame is computed per (stream, style, frame)
 * whatever the number of viewers, and each wanted strength is a render of its own.
 */
import { z } from 'zod';
import type { Frame } from '../../sources/frame.js';
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
      .describe('Workers the style stage adds to the inference pool (any worker runs any model).'),
  })
  .strict();
export type StyleStageConfig = z.output<typeof StyleSchema>;

declare module '../stage.js' {
  interface StageConfigMap {
    style: StyleStageConfig;
  }
}

/**
 * Stylises a frame of a stream (service "styler") at each of `strengths` (blended with the
 * original in the style worker); one picture per strength, in order. Rejects when the style cannot run.
 */
export type Styler = (
  stream: string,
  style: string,
  frame: Frame,
  strengths: number[],
) => Promise<Uint8Array[]>;

type Variant = { key: string; style: string | null; strength: number };

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
  /** The renders of one style: one stylisation of the frame, every wanted strength from it. */
  const oneStyle = async (c: FrameContext, style: string, vs: Variant[]): Promise<Render[]> => {
    const t0 = performance.now();
    const strengths = [...new Set(vs.map((v) => v.strength))];
    try {
      const pictures = await styler(c.stream, style, c.frame, strengths);
      ctx.metrics.stageDuration.observe(
        { stage: 'style', stream: c.stream },
        (performance.now() - t0) / 1000,
      );
      return vs.map((v) => ({
        key: v.key,
        style,
        strength: v.strength,
        pixels: pictures[strengths.indexOf(v.strength)] as Uint8Array,
        // the worker's own buffer (one per strength; variants are one per style and strength):
        // drawing may write into it
        owned: true,
        annotated: false,
      }));
    } catch (e) {
      ctx.metrics.styleErrors.inc({ stream: c.stream, style });
      // the stream keeps running unstyled; the reason is logged once per style
      if (!failed.has(style)) {
        failed.add(style);
        ctx.log.warn(
          `style "${style}" failed on ${c.stream}, sending unstyled frames: ${(e as Error).message}`,
        );
      }
      return vs.map((v) => plain(c, v.key));
    }
  };
  return async (c: FrameContext) => {
    const variants: Variant[] = viewers.variants?.(c.stream) ?? [{ key: 'plain', style: null, strength: 1 }];
    const byStyle = new Map<string, Variant[]>();
    for (const v of variants)
      if (v.style !== null) byStyle.set(v.style, [...(byStyle.get(v.style) ?? []), v]);
    const rendered = new Map<string, Render>();
    for (const [style, vs] of byStyle) for (const r of await oneStyle(c, style, vs)) rendered.set(r.key, r);
    c.renders = variants.map((v) => rendered.get(v.key) ?? plain(c, v.key));
  };
}

registerStage({
  kind: 'style',
  summary: 'Restyles displayed frames with a trained style network, per viewer choice and strength',
  phase: 'render',
  schema: StyleSchema,
  create: (_cfg, ctx) => ({ render: styleRenderer(ctx) }),
});
