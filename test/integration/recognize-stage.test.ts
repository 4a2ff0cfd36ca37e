/**
 * The recognize stage alone (no service): a chain detect -> recognize -> encode built by the builder
 * over a real inference pool and a real SQLite gallery with one person enrolled from one photo.
 * Another photo of that person is named on the frames sent to viewers; a stranger is "unknown";
 * each track is recognised once, not on every frame.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Subject } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import type { StreamConfig } from '../../src/config/schema.js';
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
import { rgbFrame } from '../helpers/images.js';
import { skipUnless } from '../helpers/requirements.js';

const W = 640;
const H = 360;
const settings = recognizeSettings();

let host: InferenceHost;
let gallery: Gallery;
let detach: () => void;

describe.skipIf(skipUnless(facePhotosMissing(), 'recognize stage alone'))(
  'recognize stage alone (real models, real gallery)',
  () => {
    beforeAll(async () => {
      host = await startHost(settings.rec);
      const dir = mkdtempSync(join(tmpdir(), 'vigil-recognize-'));
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

    /** Streams one still photo as 5 fps through detect -> recognize -> encode until a face is named. */
    async function run(file: string) {
      const sent: FrameHeader[] = [];
      const viewers: FramePublisher = { hasSubscribers: () => true, publish: (h) => sent.push(h) };
      const metrics = new VigilMetrics();
      const cfg = validateConfig({
        streams: [{ id: 'cam', lavfi: 'testsrc2', detectFps: 5, displayFps: 5 }],
      });
      const ctx: StageContext = {
        pipeline: 'recognize-test',
        metrics,
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
        ]),
      };
      const stages = [{ detect: {} }, { recognize: { refreshMs: 60_000 } }, { encode: {} }];
      const frames$ = new Subject<Frame>();
      const chain = buildChain(parsePipeline({ name: 'recognize-test', stages }), ctx, {
        sources: [{ config: cfg.streams[0] as StreamConfig, frames$ }],
        watched: () => true,
      });
      const img = await rgbFrame(file, W, H);
      const pool = new BufferPool(W * H * 3, 8);
      const named = () =>
        sent.some((h) => (h.detections as TrackedDetection[]).some((d) => d.label !== undefined));
      try {
        for (let seq = 0; seq < 60 && !(named() && seq > 15); seq++) {
          const px = pool.acquire();
          if (!px) throw new Error('pool exhausted');
          px.set(img.pixels);
          const f = pooledFrame(pool, {
            streamId: 'cam',
            seq,
            captureTs: seq * 200,
            width: W,
            height: H,
            pixels: px,
            readSeconds: 0,
          });
          frames$.next(f);
          f.release();
          await new Promise((r) => setTimeout(r, 100));
        }
      } finally {
        await chain.stop();
      }
      const labels = sent
        .flatMap((h) => (h.detections as TrackedDetection[]).map((d) => d.label))
        .filter((l) => l !== undefined);
      const recognised = (await metrics.recognitions.get()).values.reduce((a, v) => a + v.value, 0);
      return { sent, labels, recognised, pool };
    }

    it('names another photo of the enrolled person on the frames sent to viewers; one embed per track', async () => {
      const r = await run(photoPath('obama', 'obama2.jpg'));
      expect(r.labels.length).toBeGreaterThan(5);
      expect(new Set(r.labels)).toEqual(new Set(['obama']));
      // a still face is one track: recognised once (refreshMs 60 s), not on each of the 16+ frames
      expect(r.recognised).toBeGreaterThanOrEqual(1);
      expect(r.recognised).toBeLessThanOrEqual(2);
      expect(r.pool.inUse).toBe(0); // every frame reference released
    }, 60_000);

    it('a stranger is "unknown", never the enrolled person', async () => {
      const r = await run(photoPath('biden', 'biden.jpg'));
      expect(r.labels.length).toBeGreaterThan(5);
      // the first look is "uncertain" until a second clear miss agrees (the evidence rule, docs/accuracy.md)
      expect(new Set(r.labels.filter((l) => l !== 'uncertain'))).toEqual(new Set(['unknown']));
    }, 60_000);
  },
);
