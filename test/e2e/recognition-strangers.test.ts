/**
 * Strangers on a real stream (#14): a video of people nobody enrolled (faces of the shared labelled
 * sets composited over the Hamilton clip's stage with its own faces blurred away, moving, 40-120 px:
 * test/helpers/stranger-video.ts), made at test time and served by the real GStreamer RTSP server.
 * Vigil's recognize pipeline watches it with a gallery of ten people, one photo each: the clip's
 * three and seven other people of the same sets. Nobody may be named; the strangers must be seen
 * and alerted as unknown (so that "no name" is not just "no face").
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Vigil } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';
import type { FaceAlert } from '../../src/faces/alerts.js';
import { componentMissing, skipUnless } from '../helpers/requirements.js';
import { type RtspTestServer, rtspServerAvailable, startRtspServer } from '../helpers/rtsp-server.js';
import {
  faceFreeStage,
  onPath,
  type StrangerFace,
  type StrangerVideo,
  writeStrangerVideo,
} from '../helpers/stranger-video.js';
import { TrackLog } from '../helpers/track-log.js';
import { TestViewer } from '../helpers/ws-client.js';

const DATA = join(process.cwd(), '..', 'shared', 'data');
const FACES = join(DATA, 'faces');
const CLIP = join(DATA, 'video', 'short_hamilton_clip.mp4');
const HAMILTON = join(DATA, 'video', 'hamilton_enroll');
/** Enrolled besides the clip's three, one image each. */
const ENROLLED = {
  bbt_crops: ['amy', 'howard', 'penny', 'sheldon'],
  dlib_johns_crops: ['John_Salley', 'John_Schneider'],
  facerec_photos: ['kit_harington'],
};
/** Never enrolled: they walk past the camera (crops: two images each; photos: one). */
const STRANGERS = {
  bbt_crops: ['bernadette', 'leonard', 'raj', 'stuart'],
  dlib_johns_crops: ['John_Savage', 'John_Shimkus', 'John_Simm'],
  facerec_photos: ['biden', 'rose_leslie'],
};
type FaceSet = keyof typeof STRANGERS;

const images = (set: FaceSet, person: string) =>
  readdirSync(join(FACES, set, person))
    .filter((f) => /\.(jpe?g|png)$/i.test(f))
    .sort()
    .map((f) => join(FACES, set, person, f));

const missing = [CLIP, HAMILTON, ...Object.keys(STRANGERS).map((s) => join(FACES, s))].find(
  (p) => !existsSync(p),
);
const why = missing
  ? `${missing} not found (../shared/data)`
  : (componentMissing('ffmpeg') ?? (await rtspServerAvailable()));

/** The strangers' faces in the order they appear: identities interleaved, crops then photos. */
function strangerFaces(): StrangerFace[] {
  const out: StrangerFace[] = [];
  for (const round of [0, 1])
    for (const set of ['bbt_crops', 'dlib_johns_crops'] as const)
      for (const person of STRANGERS[set])
        out.push({ person, file: images(set, person)[round] as string, kind: 'crop' });
  // the second photo of each: head and shoulders (the first of Biden's is him standing, full length)
  for (const person of STRANGERS.facerec_photos)
    out.push({ person, file: images('facerec_photos', person)[1] as string, kind: 'photo' });
  return out;
}

describe.skipIf(skipUnless(why, 'strangers end-to-end test'))('strangers on a live RTSP stream', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-strangers-'));
  const shown = new TrackLog('door');
  let video: StrangerVideo;
  let rtsp: RtspTestServer;
  let vigil: Vigil;
  let viewer: TestViewer;
  let base: string;
  const enrolledNames = new Set<string>();
  let watchedFrom = 0;
  let alerts: FaceAlert[] = [];

  async function enroll(name: string, file: string) {
    const res = await fetch(`${base}/api/people?name=${encodeURIComponent(name)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: readFileSync(file),
    });
    if (res.status !== 201)
      throw new Error(`enrolling ${name} from ${file}: ${res.status} ${await res.text()}`);
    enrolledNames.add(name);
  }

  beforeAll(async () => {
    video = await writeStrangerVideo(
      strangerFaces(),
      await faceFreeStage(CLIP, dir),
      join(dir, 'strangers.mp4'),
    );
    rtsp = await startRtspServer({ file: video.file, loop: true, width: 640, height: 360, fps: 10 });
    vigil = await Vigil.start(
      validateConfig({
        server: { host: '127.0.0.1', port: 0 },
        log: { level: 'silent' },
        pipeline: 'recognize',
        dataDir: join(dir, 'data'),
        inference: { backend: 'wasm', workers: 1 },
        streams: [{ id: 'door', url: rtsp.url, width: 640, height: 360, detectFps: 5, displayFps: 10 }],
      }),
    );
    base = `http://127.0.0.1:${vigil.address.port}`;
    viewer = await TestViewer.connect(`ws://127.0.0.1:${vigil.address.port}/ws`);
    viewer.onFrame = (f) => shown.add(f);
    for (const person of readdirSync(HAMILTON).sort())
      await enroll(person, join(HAMILTON, person, readdirSync(join(HAMILTON, person))[0] as string));
    for (const [set, people] of Object.entries(ENROLLED))
      for (const person of people) await enroll(person, images(set as FaceSet, person)[0] as string);
    // the whole video once with the full gallery, and the last decisions' alerts
    watchedFrom = Date.now();
    await new Promise((r) => setTimeout(r, (video.seconds + 6) * 1000));
    alerts = (await (await fetch(`${base}/api/alerts?limit=500`)).json()) as FaceAlert[];
  }, 150_000);

  afterAll(async () => {
    viewer?.close();
    await vigil?.stop();
    await rtsp?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the gallery holds the ten people; no stranger is among them', async () => {
    const people = (await (await fetch(`${base}/api/people`)).json()) as Array<{
      name: string;
      embedded: number;
    }>;
    expect(people.map((p) => p.name).sort()).toEqual([...enrolledNames].sort());
    expect(people.length).toBe(10);
    expect(people.every((p) => p.embedded === 1)).toBe(true);
    for (const s of strangerFaces()) expect(enrolledNames.has(s.person)).toBe(false);
  });

  it('every face on the stream is a composited stranger: the stage’s own faces are covered', () => {
    const faces = shown.results.flatMap((r) => r.faces);
    expect(faces.length).toBeGreaterThan(50);
    const astray = faces.filter((f) => !video.appearances.some((a) => onPath(a, f.box)));
    expect(astray.map((f) => f.box.map(Math.round).join(','))).toEqual([]);
  });

  it('no stranger is named: no named alert, no name on any frame', () => {
    const named = alerts.filter((a) => a.person_id !== null);
    expect(named.map((a) => `${a.sub_label} (track ${a.track_id}, score ${a.score.toFixed(3)})`)).toEqual([]);
    const labels = new Set(shown.results.flatMap((r) => r.faces.map((f) => f.label)));
    expect([...labels].filter((l) => l !== undefined && enrolledNames.has(l))).toEqual([]);
  });

  it('the strangers are seen and alerted as unknown (not vacuous)', () => {
    const unknown = alerts.filter((a) => a.sub_label === 'unknown' && a.start_time * 1000 >= watchedFrom);
    const tracks = new Set(shown.results.flatMap((r) => r.faces.map((f) => f.trackId)));
    const threshold = vigil.context.faces?.threshold as number;
    console.log(
      `strangers: ${video.appearances.length} appearances in ${video.seconds} s; ${tracks.size} tracks shown; ` +
        `${unknown.length} unknown alerts since the gallery was complete (scores ${unknown.map((a) => a.score.toFixed(2)).join(' ')}; threshold ${threshold.toFixed(3)})`,
    );
    expect(tracks.size).toBeGreaterThanOrEqual(8);
    expect(unknown.length).toBeGreaterThanOrEqual(4);
    expect(unknown.every((a) => a.person_id === null && a.score < threshold && a.has_snapshot)).toBe(true);
  });
});
