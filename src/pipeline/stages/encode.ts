/**
 * encode: the output stage. Each render of a displayed frame is encoded to JPEG and published to
 * the viewers who want it, with its header (detections, timing, style).
 */
import { z } from 'zod';
import { encodeJpeg } from '../../output/encode.js';
import type { FrameHeader, FramePublisher } from '../../output/ws-hub.js';
import type { FrameContext, Render } from '../context.js';
import { rendersOf } from '../context.js';
import { registerStage, type StageContext, service } from '../stage.js';

export const EncodeSchema = z
  .object({
    format: z.literal('jpeg').default('jpeg').describe('Picture format sent over the WebSocket.'),
  })
  .strict();
export type EncodeStageConfig = z.output<typeof EncodeSchema>;

declare module '../stage.js' {
  interface StageConfigMap {
    encode: EncodeStageConfig;
  }
}

function headerOf(c: FrameContext, r: Render): FrameHeader {
  const f = c.frame;
  return {
    type: 'frame',
    stream: c.stream,
    seq: f.seq,
    captureTs: f.captureTs,
    sentTs: Date.now(),
    width: f.width,
    height: f.height,
    detections: c.detections,
    detectionSeq: c.detectionSeq,
    annotated: r.annotated,
    ...(r.style !== undefined ? { style: r.style, strength: r.strength ?? 0 } : {}),
  };
}

function encodeRenderer(ctx: StageContext) {
  const viewers = service<FramePublisher>(ctx, 'viewers', 'encode');
  const { metrics } = ctx;
  return async (c: FrameContext) => {
    const id = c.stream;
    let sent = 0;
    for (const r of rendersOf(c)) {
      const t1 = performance.now();
      const jpeg = await encodeJpeg(r.pixels, c.frame.width, c.frame.height, ctx.output.jpegQuality);
      metrics.stageDuration.observe({ stage: 'encode', stream: id }, (performance.now() - t1) / 1000);
      const t2 = performance.now();
      sent += viewers.publish(headerOf(c, r), jpeg, r.key);
      metrics.stageDuration.observe({ stage: 'send', stream: id }, (performance.now() - t2) / 1000);
    }
    if (sent > 0) {
      metrics.framesSent.inc({ stream: id });
      metrics.captureToSend.observe({ stream: id }, (Date.now() - c.frame.captureTs) / 1000);
    }
  };
}

registerStage({
  kind: 'encode',
  summary: 'Encodes each picture to JPEG and sends it to the viewers watching the stream',
  phase: 'output',
  schema: EncodeSchema,
  create: (_cfg, ctx) => ({ render: encodeRenderer(ctx) }),
});
