/**
 * Detect small, embed big, end to end on real components: a 1280x720 H.264 file (ffmpeg decodes it
 * once into 640x360 detect frames plus full pictures) with one small face of the enrolled person,
 * through detect -> recognize -> alert over a real inference pool, a real SQLite gallery and alert
 * store. Run once with embedFrom: full and once with embedFrom: detect: the full run's look is more
 * like the enrolled photo, and its snapshot is closer to the scene itself; the same video from the
 * GStreamer RTSP server with embedFrom: auto is probed and uses full pictures. Every buffer of both
 * pools is back after stop.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import type { StreamConfig } from '../../src/config/schema.js';
import { AlertStore, type FaceAlert } from '../../src/faces/alerts.js';
import type { Gallery } from '../../src/faces/gallery/gallery.js';
import { embedDim } from '../../src/faces/tasks/index.js';
import type { InferenceHost } from '../../src/inference/host.js';
import { VigilMetrics } from '../../src/metrics/metrics.js';
import { buildChain } from '../../src/pipeline/builder.js';
import { parsePipeline } from '../../src/pipeline/definition.js';
import type { StageContext } from '../../src/pipeline/stage.js';
import { storeThenPublish } from '../../src/pipeline/stages/alert.js';
import { resolveFfmpeg } from '../../src/sources/ffmpeg.js';
import type { Frame } from '../../src/sources/frame.js';
import { StreamSource } from '../../src/sources/stream-source.js';
import { faceSnapshot } from '../../src/faces/snapshot.js';
import { rgbFrame } from '../helpers/images.js';
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
import { rtspServerAvailable, startRtspServer } from '../helpers/rtsp-server.js';

const rtspMissing = await rtspServerAvailable();

const settings = recognizeSettings();
const SNAPSHOT_PX = 256;
let dir: string;
let host: InferenceHost;
let gallery: Gallery;
let detach: () => void;
let video: string;

/** A 1280x720 scene: grey, with the photo shrunk so the face is small (a 40 px box in the 640x360 frame). */
async function writeSceneVideo(dir: string): Promise<string> {
  const face = await sharp(photoPath('obama', 'obama2.jpg')).resize({ width: 130 }).png().toBuffer();
  const scene = join(dir, 'scene.png');
  await sharp({ create: { width: 1280, height: 720, channels: 3, background: { r: 90, g: 96, b: 100 } } })
    .composite([{ input: face, left: 560, top: 200 }])
    .png()
    .toFile(scene);
  const file = join(dir, 'scene.mp4');
  execFileSync(resolveFfmpeg().path, [
    ...['-v', 'error', '-loop', '1', '-framerate', '15', '-i', scene, '-t', '3'],
    ...['-c:v', 'libx264', '-crf', '16', '-pix_fmt', 'yuv420p', '-y', file],
  ]);
  return file;
}

/** Mean absolute difference of two JPEGs' pixels (the second resized to the first's size). */
async function jpegDistance(a: Buffer, b: Buffer): Promise<number> {
  const x = await sharp(a).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const y = await sharp(b)
    .resize(x.info.width, x.info.height, { fit: 'fill' })
    .removeAlpha()
    .raw()
    .toBuffer();
  let sum = 0;
  for (let i = 0; i < x.data.length; i++) sum += Math.abs((x.data[i] as number) - (y[i] as number));
  return sum / x.data.length;
}

async function run(embedFrom: 'full' | 'detect' | 'auto', url = video) {
  const cfg = validateConfig({
    streams: [{ id: 'cam', url, embedFrom, fullWidth: 1280, detectFps: 5, displayFps: 10 }],
  });
  const stream = cfg.streams[0] as StreamConfig;
  const source = new StreamSource(stream, resolveFfmpeg());
  let withFull = 0;
  source.frames$.subscribe((f: Frame) => void (f.full && withFull++));
  const store = new AlertStore(new Database(':memory:'));
  const alerts: Array<{ alert: FaceAlert; snapshot?: Buffer }> = [];
  const ctx: StageContext = {
    pipeline: 'full-res-test',
    metrics: new VigilMetrics(),
    log: pino({ level: 'silent' }),
    output: cfg.output,
    batching: { maxBatch: 1, maxWaitMs: 1 },
    services: new Map<string, unknown>([
      [
        'detector',
        {
          idle: () => host.idle,
          whenIdle: () => host.whenIdle(),
          run: async (f: Frame[]) => (await host.run('detect', f)).result,
        },
      ],
      ['embedder', host],
      ['viewers', { hasSubscribers: () => false, publish: () => {} }],
      ['faces', { gallery, threshold: settings.threshold }],
      [
        'alerts',
        storeThenPublish(store, (alert: FaceAlert, snapshot?: Buffer) => alerts.push({ alert, snapshot })),
      ],
    ]),
  };
  // every look votes and a look names or rejects at once: the first decision alerts, whatever it is
  const evidence = { nameLooks: 1, unknownLooks: 1, nearMiss: 0, voteMinFacePx: 0, minFacePx: 16 };
  const stages = [
    { detect: {} },
    { recognize: { ...settings.rec, ...evidence } },
    { alert: { unknownLooks: 1, snapshotPx: SNAPSHOT_PX } },
    { encode: {} },
  ];
  const chain = buildChain(parsePipeline({ name: 'full-res-test', stages }), ctx, {
    sources: [{ config: stream, frames$: source.frames$ }],
    watched: () => false,
  });
  source.start();
  const t0 = Date.now();
  while (!alerts.some((a) => a.snapshot) && Date.now() - t0 < 30_000)
    await new Promise((r) => setTimeout(r, 100));
  const faceBox = chain.latest.get('cam')?.detections[0]?.box;
  await chain.stop();
  await source.stop();
  await new Promise((r) => setTimeout(r, 200)); // snapshots being cut let their frames go
  return { alerts, faceBox, status: source.status, inUse: source.buffersInUse, withFull, stored: store };
}

describe.skipIf(skipUnless(facePhotosMissing(), 'full-resolution embedding'))(
  'embedFrom: full (real ffmpeg, models, gallery, alert store)',
  () => {
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'vigil-fullres-'));
      video = await writeSceneVideo(dir);
      host = await startHost(settings.rec);
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

    it('faces are embedded and snapshotted from the 1280x720 picture: closer to the enrolled photo, more detail; pools back to 0', async () => {
      const full = await run('full');
      const small = await run('detect');
      expect(full.status.fullRes).toEqual({ width: 1280, height: 720, every: 2 });
      expect(small.status.fullRes).toBeUndefined();
      expect(full.withFull).toBeGreaterThan(0);
      expect(small.withFull).toBe(0);
      const first = (r: typeof full) => {
        const a = r.alerts.find((x) => x.snapshot);
        if (!a?.snapshot) throw new Error(`no alert with a snapshot (${r.alerts.length} alerts)`);
        return { ...a, snapshot: a.snapshot };
      };
      const [a, b] = [first(full), first(small)];
      // the same face, the same detector: the look cut from the full picture is more like the photo
      expect(a.alert.score).toBeGreaterThan(b.alert.score + 0.02);
      // the snapshot: the scene itself cut at 1280x720 around the face is the truth; the full run's
      // snapshot is closer to it than the detect run's (cut from 640x360, upscaled to 256 px)
      const box = full.faceBox;
      if (!box) throw new Error('no face detected');
      expect(box[2] - box[0]).toBeLessThan(60); // small in the detect frame
      const opts = { size: SNAPSHOT_PX, margin: 0.5 };
      const scene = await rgbFrame(join(dir, 'scene.png'), 1280, 720);
      const truth = await faceSnapshot(
        scene,
        { box: box.map((v) => v * 2) as typeof box, landmarks: [] },
        opts,
      );
      const [da, db] = [
        await jpegDistance(truth.jpeg, a.snapshot),
        await jpegDistance(truth.jpeg, b.snapshot),
      ];
      expect(da).toBeLessThan(0.8 * db);
      // stored with the snapshot, the face box mapped into the snapshot's pixels (enrollable)
      const face = full.stored.snapshotWithFace(a.alert.id)?.face;
      expect(face?.box[2]).toBeGreaterThan(face?.box[0] ?? 0);
      for (const r of [full, small]) expect(r.inUse).toEqual({ detect: 0, full: 0 });
    }, 120_000);

    it.skipIf(skipUnless(rtspMissing, 'full-resolution embedding over RTSP'))(
      'auto on a 1280x720 RTSP camera: probed, full pictures used, the face named from them; pools back to 0',
      async () => {
        const rtsp = await startRtspServer({ file: video, loop: true, width: 1280, height: 720, fps: 10 });
        try {
          const r = await run('auto', rtsp.url);
          expect(r.status.fullRes).toEqual({ width: 1280, height: 720, every: 2 });
          expect(r.withFull).toBeGreaterThan(0);
          expect(r.alerts.find((a) => a.snapshot)?.alert.sub_label).toBe('obama');
          expect(r.inUse).toEqual({ detect: 0, full: 0 });
        } finally {
          await rtsp.stop();
        }
      },
      120_000,
    );
  },
);
