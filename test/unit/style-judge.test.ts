import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { styleTf, type Tf } from '../../src/style/backend.js';
import { readStyleImage } from '../../src/style/data.js';
import { cropRgb, type JudgeFeatures, StyleJudge } from '../../src/style/judge.js';
import type { RgbImage } from '../../src/util/rgb.js';
import { samplePhoto } from '../helpers/images.js';
import { skipUnless } from '../helpers/requirements.js';

const PAINTINGS = join(import.meta.dirname, '..', '..', '..', 'shared', 'data', 'style', 'paintings');
const AMBER = join(import.meta.dirname, '..', '..', '..', 'shared', 'data', 'style', 'content', 'amber.jpg');
const missing = existsSync(PAINTINGS) ? null : `${PAINTINGS} (shared style data) is missing`;

/** The four corner crops of an image, each 70% of its sides (they overlap in the middle). */
function corners(img: RgbImage): RgbImage[] {
  const w = Math.round(img.width * 0.7);
  const h = Math.round(img.height * 0.7);
  return [
    [0, 0],
    [img.width - w, 0],
    [0, img.height - h],
    [img.width - w, img.height - h],
  ].map(([x, y]) => cropRgb(img, x as number, y as number, w, h));
}

describe.skipIf(skipUnless(missing, 'style judge'))('independent style judge', () => {
  let tf: Tf;
  let judge: StyleJudge;
  beforeAll(async () => {
    ({ tf } = await styleTf('wasm'));
    judge = new StyleJudge(tf);
  });
  afterAll(() => judge?.dispose());

  it("places a painting's crops nearer the painting than unrelated photos and other paintings", async () => {
    const files = readdirSync(PAINTINGS)
      .filter((f) => f.endsWith('.jpg'))
      .sort();
    expect(files.length).toBeGreaterThanOrEqual(6);
    const paintings = await Promise.all(files.map((f) => readStyleImage(join(PAINTINGS, f), 256)));
    const photos = await Promise.all(
      [samplePhoto(1), samplePhoto(2), samplePhoto(3), AMBER].map((f) => readStyleImage(f, 256)),
    );
    const whole = paintings.map((p) => judge.features(p));
    const photoFeats = photos.map((p) => judge.features(p));
    const rows: string[] = [];
    let nearestIsOwn = 0;
    paintings.forEach((p, i) => {
      const target = whole[i] as JudgeFeatures;
      const own = corners(p).map((c) => {
        const f = judge.features(c);
        const toEach = whole.map((w) => judge.styleDistance(f, w));
        if (toEach.indexOf(Math.min(...toEach)) === i) nearestIsOwn++;
        judge.release(f);
        return toEach[i] as number;
      });
      const meanOwn = own.reduce((a, b) => a + b, 0) / own.length;
      const photoDist = photoFeats.map((f) => judge.styleDistance(f, target));
      const otherDist = whole.filter((_, j) => j !== i).map((f) => judge.styleDistance(f, target));
      rows.push(
        `${files[i]}: own crops mean ${meanOwn.toFixed(3)}, photos >= ${Math.min(...photoDist).toFixed(3)}, other paintings >= ${Math.min(...otherDist).toFixed(3)}`,
      );
      expect(meanOwn, files[i]).toBeLessThan(Math.min(...photoDist));
      expect(meanOwn, files[i]).toBeLessThan(Math.min(...otherDist));
    });
    console.log(
      `${rows.join('\n')}\ncrops nearest their own painting: ${nearestIsOwn} of ${files.length * 4}`,
    );
    // chance is 1 in 6 (4 of 24); the judge finds the painting of nearly every crop
    expect(nearestIsOwn).toBeGreaterThanOrEqual(files.length * 4 - 4);
    for (const f of [...whole, ...photoFeats]) judge.release(f);
  }, 120_000);

  it('content distance: zero for the image itself, growing with noise; style distance of an image to itself is zero', async () => {
    const img = await readStyleImage(AMBER, 192);
    const noisy = (sigma: number): RgbImage => {
      let s = 5;
      const px = img.pixels.map((v) => {
        s = (s * 1103515245 + 12345) >>> 0;
        return Math.max(0, Math.min(255, Math.round(v + sigma * ((s / 2 ** 32) * 2 - 1))));
      });
      return { ...img, pixels: px };
    };
    const ref = judge.features(img);
    const d = [0, 20, 60].map((sigma) => {
      const f = judge.features(noisy(sigma));
      const r = judge.contentDistance(f, ref);
      judge.release(f);
      return r;
    });
    expect(d[0]).toBe(0);
    expect(d[1]).toBeGreaterThan(0);
    expect(d[2]).toBeGreaterThan(d[1] as number);
    expect(judge.styleDistance(ref, ref)).toBe(0);
    judge.release(ref);
  });
});
