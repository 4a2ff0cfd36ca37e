/**
 * A poor look does not vote (#14 item 3): a stranger's real photo through detect -> recognize ->
 * alert -> encode over a real inference pool and gallery. Full size, its looks are good: the track
 * is "unknown" and alerts once. Downscaled to half in the same frame, below recognize.voteMinFacePx
 * (set between the two face sizes measured here), it is still detected, tracked and embedded, but
 * its looks do not vote: the track stays "uncertain", is shown, and raises no unknown alert.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Subject } from 'rxjs';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import type { StreamConfig } from '../../src/config/schema.js';
import { AlertStore, type FaceAlert } from '../../src/faces/alerts.js';
import type { Gallery } from '../../src/faces/gallery/gallery.js';
import { embedDim } from '../../src/faces/tasks/index.js';
import type { InferenceHost } from '../../src/inference/host.js';
import { VigilMetrics } from '../../src/metrics/metrics.js';
import type { FrameHeader, FramePublisher } from '../../src/output/ws-hub.js';
import { buildChain } from '../../src/pipeline/builder.js';
import type { TrackedDetection } from '../../src/pipeline/context.js';
import { parsePipeline } from '../../src/pipeline/definition.js';
import type { StageContext } from '../../src/pipeline/stage.js';
import { BufferPool, type Frame, pooledFrame } from '../../src/sources/frame.js';
import {
  facePhotosMissing,
  openGallery,
  photo,
  photoPath,
  recognizeSettings,
  serviceOn,
  startHost,
} from '../helpers/faces.js';
import { skipUnless } from '../helpers/requirements.js';

const W = 640;
const H = 360;
const settings = recognizeSettings();

/** The photo fit into W x H at `scale` of the frame, centred on black (RGB). */
async function frameAt(file: string, scale: number): Promise<Uint8Array> {
  const w = Math.round(W * scale);
  const h = Math.round(H * scale);
  const small = await sharp(file)
    .resize(w, h, { fit: 'contain', background: '#000' })
    .removeAlpha()
    .toBuffer();
  const left = Math.floor((W - w) / 2);
  const top = Math.floor((H - h) / 2);
  const { data } = await sharp({ create: { width: W, height: H, channels: 3, background: '#000' } })
    .composite([{ input: small, left, top }])
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return new Uint8Array(data.buffer, data.byteOffset, data.length);
}

let host: InferenceHost;
let gallery: Gallery;
let detach: () => void;
let dir: string;

describe.skipIf(skipUnless(facePhotosMissing(), 'poor looks'))('a poor look does not vote', () => {
  beforeAll(async () => {
    host = await startHost(settings.rec);
    dir = mkdtempSync(join(tmpdir(), 'vigil-poor-'));
    gallery = openGallery(join(dir, 'vigil.db'), settings.rec.model, settings.space, embedDim(host));
    const on = serviceOn(host, gallery, settings.rec, settings.threshold);
    detach = on.detach;
    await on.service.enroll('obama', [photo('obama', 'obama.jpg')]);
  }, 180_000);
  afterAll(async () => {
    detach?.();
    gallery?.close();
    await host?.close();
  });

  async function run(pixels: Uint8Array, recognize: Record<string, unknown>) {
    const sent: FrameHeader[] = [];
    const viewers: FramePublisher = { hasSubscribers: () => true, publish: (h) => sent.push(h) };
    const fired: FaceAlert[] = [];
    const store = new AlertStore(gallery.db);
    const cfg = validateConfig({ streams: [{ id: 'cam', lavfi: 'testsrc2', detectFps: 5, displayFps: 5 }] });
    const ctx: StageContext = {
      pipeline: 'poor-look',
      metrics: new VigilMetrics(),
      log: pino({ level: 'silent' }),
      output: cfg.output,
      batching: { maxBatch: 1, maxWaitMs: 1 },
      services: new Map<string, unknown>([
        ['viewers', viewers],
        [
          'detector',
          {
            idle: () => host.idle,
            whenIdle: () => host.whenIdle(),
            run: async (f: Frame[]) => (await host.run('detect', f)).result,
          },
        ],
        ['embedder', host],
        ['faces', { gallery, threshold: settings.threshold }],
        ['alerts', { store, publish: (a: FaceAlert) => fired.push(a) }],
      ]),
    };
    const stages = [{ detect: {} }, { recognize }, { alert: {} }, { encode: {} }];
    const frames$ = new Subject<Frame>();
    const chain = buildChain(parsePipeline({ name: 'poor-look', stages }), ctx, {
      sources: [{ config: cfg.streams[0] as StreamConfig, frames$ }],
      watched: () => true,
    });
    const pool = new BufferPool(W * H * 3, 8);
    try {
      for (let seq = 0; seq < 20; seq++) {
        const px = pool.acquire();
        if (!px) throw new Error('pool exhausted');
        px.set(pixels);
        const f = pooledFrame(pool, {
          streamId: 'cam',
          seq,
          captureTs: Date.now(),
          width: W,
          height: H,
          pixels: px,
          readSeconds: 0,
        });
        frames$.next(f);
        f.release();
        await new Promise((r) => setTimeout(r, 100));
      }
      await new Promise((r) => setTimeout(r, 600)); // the last alert's snapshot
    } finally {
      await chain.stop();
    }
    const dets = sent.flatMap((h) => h.detections as TrackedDetection[]).filter((d) => d.label !== undefined);
    return { dets, alerts: fired };
  }

  it('full size: good looks, "unknown", one unknown alert; half size below voteMinFacePx: "uncertain", no alert', async () => {
    const stranger = photoPath('biden', 'biden.jpg');
    const big = await run(await frameAt(stranger, 1), {});
    expect(big.dets.length).toBeGreaterThan(5);
    expect(big.dets.at(-1)?.outcome).toBe('unknown');
    expect(big.alerts.filter((a) => a.person_id === null).length).toBe(1);
    const bigPx = (big.dets.at(-1)?.box[2] ?? 0) - (big.dets.at(-1)?.box[0] ?? 0);

    const half = await frameAt(stranger, 0.5);
    const small = await run(half, { voteMinFacePx: Math.round(bigPx * 0.75) });
    const smallPx = (small.dets.at(-1)?.box[2] ?? 0) - (small.dets.at(-1)?.box[0] ?? 0);
    console.log(
      `face ${bigPx.toFixed(0)} px full size, ${smallPx.toFixed(0)} px at half; vote floor ${Math.round(bigPx * 0.75)} px`,
    );
    // detected, tracked and embedded (labelled), above the embedding floor, below the vote floor
    expect(smallPx).toBeGreaterThanOrEqual(24);
    expect(smallPx).toBeLessThan(bigPx * 0.75);
    expect(small.dets.length).toBeGreaterThan(5);
    expect(new Set(small.dets.map((d) => d.outcome))).toEqual(new Set(['uncertain']));
    expect(new Set(small.dets.map((d) => d.label))).toEqual(new Set(['uncertain']));
    expect(small.alerts).toEqual([]);
  }, 120_000);
});
