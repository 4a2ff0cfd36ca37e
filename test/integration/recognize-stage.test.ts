/**
 * The recognize stage alone (no service): a chain detect -> recognize -> encode built by the builder
 * over a real inference pool and a real SQLite gallery with one person enrolled from one photo.
 * Another photo of that person is named on the frames sent to viewers; a stranger is "unknown";
 * each track is recognised once, not on every frame.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TrackedDetection } from '../../src/pipeline/context.js';
import {
  facePhotosMissing,
  type OnePersonGallery,
  onePersonGallery,
  photoPath,
  recognizeSettings,
} from '../helpers/faces.js';
import { rgbFrame } from '../helpers/images.js';
import { skipUnless } from '../helpers/requirements.js';
import { labelledDetections, runStill, type SentFrame } from '../helpers/stage-harness.js';

const W = 640;
const H = 360;
const settings = recognizeSettings();

let one: OnePersonGallery;

describe.skipIf(skipUnless(facePhotosMissing(), 'recognize stage alone'))(
  'recognize stage alone (real models, real gallery)',
  () => {
    beforeAll(async () => {
      one = await onePersonGallery(settings, 'obama', 'obama.jpg');
    }, 180_000);
    afterAll(() => one?.close());

    /** Streams one still photo as 5 fps through detect -> recognize -> encode until a face is named. */
    async function run(file: string) {
      const img = await rgbFrame(file, W, H);
      const named = (sent: SentFrame[]) =>
        sent.some((s) => (s.header.detections as TrackedDetection[]).some((d) => d.label !== undefined));
      const { sent, metrics, pool } = await runStill({
        host: one.host,
        pipeline: 'recognize-test',
        stages: [{ detect: {} }, { recognize: { refreshMs: 60_000 } }, { encode: {} }],
        pixels: img.pixels,
        width: W,
        height: H,
        faces: { gallery: one.gallery, threshold: settings.threshold },
        frames: 60,
        until: (sent, seq) => named(sent) && seq > 15,
      });
      const labels = labelledDetections(sent).map((d) => d.label);
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
