/**
 * A poor look does not vote (#14 item 3): a stranger's real photo through detect -> recognize ->
 * alert -> encode over a real inference pool and gallery. Full size, its looks are good: the track
 * is "unknown" and alerts once. Downscaled to half in the same frame, below recognize.voteMinFacePx
 * (set between the two face sizes measured here), it is still detected, tracked and embedded, but
 * its looks do not vote: the track stays "uncertain", is shown, and raises no unknown alert.
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertStore } from '../../src/faces/alerts.js';
import {
  facePhotosMissing,
  type OnePersonGallery,
  onePersonGallery,
  photoPath,
  recognizeSettings,
} from '../helpers/faces.js';
import { skipUnless } from '../helpers/requirements.js';
import { labelledDetections, runStill } from '../helpers/stage-harness.js';

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

let one: OnePersonGallery;

describe.skipIf(skipUnless(facePhotosMissing(), 'poor looks'))('a poor look does not vote', () => {
  beforeAll(async () => {
    one = await onePersonGallery(settings, 'obama', 'obama.jpg');
  }, 180_000);
  afterAll(() => one?.close());

  async function run(pixels: Uint8Array, recognize: Record<string, unknown>) {
    const r = await runStill({
      host: one.host,
      pipeline: 'poor-look',
      stages: [{ detect: {} }, { recognize }, { alert: {} }, { encode: {} }],
      pixels,
      width: W,
      height: H,
      faces: { gallery: one.gallery, threshold: settings.threshold },
      alertStore: new AlertStore(one.gallery.db),
      frames: 20,
      clock: 'wall',
      settleMs: 600, // the last alert's snapshot
    });
    return { dets: labelledDetections(r.sent), alerts: r.alerts };
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
