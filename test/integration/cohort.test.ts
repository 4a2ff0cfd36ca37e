import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cohort } from '../../src/faces/cohort.js';
import { FaceEngine, largestFace } from '../../src/faces/engine.js';
import { Gallery } from '../../src/faces/gallery/gallery.js';
import { dot } from '../../src/faces/metrics.js';
import { readThreshold, spaceVersion } from '../../src/faces/thresholds.js';
import { UnknownStore } from '../../src/faces/unknowns/store.js';
import { loadPipeline, stageSettings } from '../../src/pipeline/definition.js';
import { decodeImage } from '../../src/util/image.js';
import type { RgbImage } from '../../src/util/rgb.js';
import { DATA } from '../helpers/faces.js';
import { samplePhoto } from '../helpers/images.js';
import { skipUnless } from '../helpers/requirements.js';

const BBT = join(DATA, 'faces', 'bbt_crops');
const skip = skipUnless(existsSync(BBT) ? undefined : `${BBT} not found`, 'cohort normalisation test');
const rec = stageSettings(loadPipeline('recognize')).recognize;
if (!rec) throw new Error('pipelines/recognize.yaml has no recognize stage');
const space = { model: rec.model, version: spaceVersion(rec.align, rec.context), dim: 1024 };
const threshold = readThreshold(rec.model, space.version).similarity;
const dir = mkdtempSync(join(tmpdir(), 'vigil-cohort-'));

/** The face downscaled to `px` wide and back (a far-away face on camera). */
async function lowRes(img: RgbImage, faceW: number, px: number): Promise<RgbImage> {
  const f = px / faceW;
  const raw = { raw: { width: img.width, height: img.height, channels: 3 as const } };
  const w = Math.round(img.width * f);
  const h = Math.round(img.height * f);
  const small = await sharp(Buffer.from(img.pixels), raw).resize(w, h).raw().toBuffer();
  const { data, info } = await sharp(small, { raw: { width: w, height: h, channels: 3 } })
    .resize(img.width, img.height, { fit: 'fill', kernel: 'cubic' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, pixels: new Uint8Array(data) };
}

// Real faceres embeddings of the bbt crops (the shipped space): leonard enrolled from his first
// photo; raj a stranger the site has seen before; everyone else in the set passes as unknown. The
// generic cohort: every face BlazeFace finds in face-api's demo photos.
describe.skipIf(skip)('cohort normalisation on real embeddings, grown from the unknowns store', () => {
  const engine = new FaceEngine({
    backend: 'wasm',
    embedModel: rec.model,
    align: rec.align,
    context: rec.context,
  });
  const faces = new Map<string, Array<{ file: string; clean: Float32Array; px32: Float32Array }>>();
  const generic: Float32Array[] = [];

  beforeAll(async () => {
    await engine.start();
    for (const person of readdirSync(BBT).sort()) {
      const list = [];
      for (const file of readdirSync(join(BBT, person)).sort()) {
        const img = await decodeImage(join(BBT, person, file));
        const d = largestFace(await engine.detect(img));
        const box = d?.box ?? ([0, 0, img.width, img.height] as [number, number, number, number]);
        const one = async (im: RgbImage) =>
          (await engine.embedFaces(im, [{ box, landmarks: [] }], 0))[0]?.embedding as Float32Array;
        list.push({ file, clean: await one(img), px32: await one(await lowRes(img, box[2] - box[0], 32)) });
      }
      faces.set(person, list);
    }
    for (let n = 1; n <= 6; n++) {
      for (const f of await engine.analyze(await decodeImage(samplePhoto(n)), 0)) generic.push(f.embedding);
    }
  }, 300_000);

  afterAll(async () => {
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const open = () => {
    const g = new Gallery(join(dir, 'site.db'), space);
    return { g, store: new UnknownStore(g.db, g.space, { threshold }) };
  };

  it('a stranger just above the raw threshold is not named once the site cohort knows his face', () => {
    const leonard = faces.get('leonard') ?? [];
    const enrolled = leonard[0]?.clean as Float32Array;
    const raj = faces.get('raj') ?? [];
    // raj's look that best matches leonard, at full and at 32 px: found, not chosen by hand
    const looks = raj.flatMap((r) =>
      [r.clean, r.px32].map((e) => ({ file: r.file, e, raw: dot(e, enrolled) })),
    );
    const stranger = looks.sort((a, b) => b.raw - a.raw)[0];
    if (!stranger) throw new Error('no raj faces');
    expect(stranger.raw).toBeGreaterThanOrEqual(threshold); // named on raw scores
    expect(stranger.raw).toBeLessThan(threshold + 0.05); // just above

    // the site saw raj (his other photos) and the rest of the cast as unknown faces
    const { g, store } = open();
    let track = 0;
    for (const [person, list] of faces) {
      if (person === 'leonard') continue;
      for (const f of list) {
        if (person === 'raj' && f.file === stranger.file) continue;
        store.addSighting({ camera: 'c1', trackId: ++track, time: Date.now(), embedding: f.clean });
      }
    }
    const toLeonard = (e: Float32Array) => dot(e, enrolled);
    const cohort = new Cohort({ generic, maxSite: 50, k: 10, maxEnrolledSimilarity: threshold });
    const taken = cohort.syncFromUnknowns(store, toLeonard);
    expect(taken).toBeGreaterThanOrEqual(2);
    const genericOnly = new Cohort({ generic, maxSite: 0, k: 10, maxEnrolledSimilarity: threshold });

    // raj resembles the site's faces more than a typical face does: his normalised score falls short
    expect(cohort.stats(stranger.e).mean).toBeGreaterThan(genericOnly.stats(stranger.e).mean);
    const d = cohort.decide(stranger.raw, stranger.e, enrolled, threshold);
    expect(d.accepted).toBe(false);
    // leonard's own photos above the raw threshold stay named
    const genuine = leonard.slice(1).filter((l) => dot(l.clean, enrolled) >= threshold);
    expect(genuine.length).toBeGreaterThan(0);
    for (const l of genuine)
      expect(cohort.decide(dot(l.clean, enrolled), l.clean, enrolled, threshold).accepted).toBe(true);

    // restart: the store reopened from disk rebuilds the same cohort and the same decision
    const before = { size: cohort.size, score: d.score };
    g.close();
    const again = open();
    const rebuilt = new Cohort({ generic, maxSite: 50, k: 10, maxEnrolledSimilarity: threshold });
    expect(rebuilt.syncFromUnknowns(again.store, toLeonard)).toBe(taken);
    expect(rebuilt.size).toBe(before.size);
    expect(rebuilt.decide(stranger.raw, stranger.e, enrolled, threshold).score).toBeCloseTo(before.score, 6);

    // the cohort grows with a new unknown face (bounded by maxSite)
    const newcomer = (faces.get('penny') ?? [])[0]?.px32 as Float32Array;
    again.store.addSighting({ camera: 'c2', trackId: 999, time: Date.now() + 1000, embedding: newcomer });
    const grown = rebuilt.syncFromUnknowns(again.store, toLeonard);
    expect(grown).toBeGreaterThanOrEqual(taken);
    expect(again.store.stats().sightings).toBe(track + 1);
    again.g.close();
  });
});
