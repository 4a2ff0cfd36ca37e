import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Vigil } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';
import type { FaceAlert } from '../../src/faces/alerts.js';
import { skipUnless } from '../helpers/requirements.js';
import { type RtspTestServer, rtspServerAvailable, startRtspServer } from '../helpers/rtsp-server.js';
import { TrackLog } from '../helpers/track-log.js';
import { TestViewer } from '../helpers/ws-client.js';

const data = join(process.cwd(), '..', 'shared', 'data', 'video');
const clip = join(data, 'short_hamilton_clip.mp4');
const enrollDir = join(data, 'hamilton_enroll');
const rtspMissing = await rtspServerAvailable();
const why =
  !existsSync(clip) || !existsSync(enrollDir)
    ? `${data} (short_hamilton_clip.mp4, hamilton_enroll/) not found`
    : rtspMissing;
const skip = skipUnless(why, 'recognition end-to-end test');

interface Labelled {
  trackId: number;
  label?: string;
}

// The real clip through the real RTSP server, the three people enrolled from one photo each over
// the HTTP API, recognition live on the stream.
describe.skipIf(skip)('live recognition end to end (RTSP, one-shot enrollment, tracking, alerts)', () => {
  let rtsp: RtspTestServer;
  let vigil: Vigil;
  let viewer: TestViewer;
  let base: string;
  // every detection result shown of the stream, for the whole test (viewer.frames keeps the last 500)
  const shown = new TrackLog('stage');

  beforeAll(async () => {
    rtsp = await startRtspServer({ file: clip, loop: true, width: 640, height: 360, fps: 15 });
    vigil = await Vigil.start(
      validateConfig({
        server: { host: '127.0.0.1', port: 0 },
        log: { level: 'silent' },
        pipeline: 'recognize',
        dataDir: mkdtempSync(join(tmpdir(), 'vigil-e2e-')),
        inference: { backend: 'wasm', workers: 1 },
        streams: [{ id: 'stage', url: rtsp.url, width: 640, height: 360, detectFps: 5, displayFps: 10 }],
      }),
    );
    base = `http://127.0.0.1:${vigil.address.port}`;
    viewer = await TestViewer.connect(`ws://127.0.0.1:${vigil.address.port}/ws`);
    viewer.onFrame = (f) => shown.add(f);
  });

  afterAll(async () => {
    viewer?.close();
    await vigil?.stop();
    await rtsp?.stop();
  });

  it('enrolls the three people from one photo each over the HTTP API', async () => {
    for (const person of readdirSync(enrollDir).sort()) {
      const file = readdirSync(join(enrollDir, person))[0] as string;
      const res = await fetch(`${base}/api/people?name=${encodeURIComponent(person)}`, {
        method: 'POST',
        headers: { 'content-type': file.endsWith('.png') ? 'image/png' : 'image/jpeg' },
        body: readFileSync(join(enrollDir, person, file)),
      });
      expect(res.status, await res.clone().text()).toBe(201);
    }
    const people = (await (await fetch(`${base}/api/people`)).json()) as Array<{
      name: string;
      embedded: number;
    }>;
    expect(people.map((p) => p.name)).toEqual(['alex_lacamoire', 'lin_manuel_miranda', 'obama']);
    expect(people.every((p) => p.embedded === 1)).toBe(true);
  });

  // filled by the first test below, read by the ones after it (they run in order)
  let alerts: FaceAlert[] = [];
  let frames: TestViewer['frames'] = [];
  const enrolled = new Set(['alex_lacamoire', 'lin_manuel_miranda', 'obama']);
  const alertFor = (name: string) => (v: TestViewer) =>
    v.events.some((e) => e.type === 'alert' && (e.alert as FaceAlert).sub_label === name);

  it('alerts arrive with snapshots for Lin, Obama and Alex, over the API and the WebSocket', async () => {
    await viewer.waitFor(alertFor('lin_manuel_miranda'), 40_000, 'an alert for lin_manuel_miranda');
    // Obama: a small (~60 px) laughing profile in the audience, about 2 s per loop of the clip,
    // enrolled from one frontal portrait (docs/accuracy.md, "Crop context and small faces").
    await viewer.waitFor(alertFor('obama'), 60_000, 'an alert for obama');
    // Alex Lacamoire: at the piano for ~0.4 s per loop of the clip, turned towards the keys
    await viewer.waitFor(alertFor('alex_lacamoire'), 90_000, 'an alert for alex_lacamoire');
    // two loops of the clip: every scene (close-ups, piano, audience) is seen
    await new Promise((r) => setTimeout(r, 12_000));
    alerts = (await (await fetch(`${base}/api/alerts?limit=100`)).json()) as FaceAlert[];
    frames = viewer.frames.filter((f) => f.header.stream === 'stage');
    const threshold = vigil.context.faces?.threshold as number;
    const lin = alerts.find((a) => a.sub_label === 'lin_manuel_miranda') as FaceAlert;
    expect(lin.camera).toBe('stage');
    expect(lin.score).toBeGreaterThanOrEqual(threshold);
    const obama = alerts.find((a) => a.sub_label === 'obama');
    expect(obama, 'an alert naming obama').toBeDefined();
    expect(obama?.person_id).not.toBeNull();
    expect(obama?.score).toBeGreaterThanOrEqual(threshold);
    expect(lin.has_snapshot).toBe(true);
    const snap = await fetch(`${base}${lin.snapshot_url}`);
    expect(snap.headers.get('content-type')).toBe('image/jpeg');
    const meta = await sharp(Buffer.from(await snap.arrayBuffer())).metadata();
    expect(meta.format).toBe('jpeg');
    expect(meta.width).toBeGreaterThan(30);
    // pushed over WebSocket too, with the same id
    expect(viewer.events.some((e) => e.type === 'alert' && (e.alert as FaceAlert).id === lin.id)).toBe(true);
  }, 240_000); // Lin (up to 40 s), Obama (up to 60 s, ~2 s per loop), Alex (up to 90 s, ~0.4 s per loop), two loops

  it('names stay on stable tracks: the track that carries Lin’s name keeps it without flicker', () => {
    const byTrack = new Map<number, string[]>();
    for (const f of frames)
      for (const d of f.header.detections as Labelled[]) {
        if (!byTrack.has(d.trackId)) byTrack.set(d.trackId, []);
        byTrack.get(d.trackId)?.push(d.label ?? '');
      }
    const linTracks = [...byTrack.entries()].filter(([, labels]) => labels.includes('lin_manuel_miranda'));
    const [, longest] = linTracks.sort((a, b) => b[1].length - a[1].length)[0] as [number, string[]];
    expect(longest.length).toBeGreaterThanOrEqual(8);
    const afterNamed = longest.slice(longest.indexOf('lin_manuel_miranda'));
    expect(afterNamed.filter((l) => l === 'lin_manuel_miranda').length / afterNamed.length).toBeGreaterThan(
      0.9,
    );
  });

  it('strangers (the audience) are unknown, never one of the enrolled people', () => {
    const threshold = vigil.context.faces?.threshold as number;
    const unknownAlerts = alerts.filter((a) => a.sub_label === 'unknown');
    expect(unknownAlerts.length).toBeGreaterThan(0);
    expect(unknownAlerts.every((a) => a.person_id === null && a.score < threshold)).toBe(true);
    // Each unknown alert is for a face that is none of the three: its track never carried their
    // name, nor did it take over a named face (same place, the detection before it began: a split).
    // The audience comes back with every loop of the clip as new tracks, so their number grows
    // with the loops watched (about 1-2 faces a loop: Michelle Obama, the woman left of Obama).
    // the check does see names: Lin's track, on screen for seconds, carries his
    const lin = alerts.filter((a) => a.sub_label === 'lin_manuel_miranda');
    expect(lin.some((a) => shown.namesOf(a.track_id, enrolled).includes('lin_manuel_miranda'))).toBe(true);
    const faces = unknownAlerts.map((a) => ({ a, first: shown.firstOf(a.track_id) }));
    for (const { a, first } of faces) {
      expect(first, `track ${a.track_id} of unknown alert ${a.id} on the stream`).toBeDefined();
      expect(shown.namesOf(a.track_id, enrolled), `whose face unknown alert ${a.id} was`).toEqual([]);
    }
    // Next to Obama sits Michelle Obama, whom nobody enrolled: while his face carries his name, no
    // other face of the frame carries an enrolled person's name.
    const withObama = frames.filter((f) =>
      (f.header.detections as Labelled[]).some((d) => d.label === 'obama'),
    );
    expect(withObama.length).toBeGreaterThan(0);
    for (const f of withObama) {
      const names = (f.header.detections as Labelled[]).filter((d) => d.label && enrolled.has(d.label));
      expect(names.map((d) => d.label)).toEqual(['obama']);
    }
    const named = [...new Set(alerts.filter((a) => a.sub_label !== 'unknown').map((a) => a.sub_label))];
    const where = faces.map(({ a, first }) => `track ${a.track_id} at [${first?.face.box.map(Math.round)}]`);
    console.log(
      `recognised on the stream: ${named.join(', ')}; alerts: ${alerts.length} (${unknownAlerts.length} unknown, ` +
        `over ${(shown.seconds / 10).toFixed(1)} loops of the clip: ${where.join(', ')})`,
    );
  });

  it('metrics count recognitions and alerts without naming anyone; strangers are grouped to be named', async () => {
    const m = await (await fetch(`${base}/metrics`)).text();
    expect(m).toMatch(/vigil_recognitions_total\{stream="stage",result="known"\} [1-9]/);
    expect(m).toMatch(/vigil_alerts_total\{stream="stage",kind="known"\} [1-9]/);
    // who was seen is not on the open /metrics endpoint (the alerts API, token-guarded, has it)
    for (const name of enrolled) expect(m).not.toContain(name);
    expect(m).toMatch(/vigil_gallery_people 3/);
    // the strangers' faces are kept and grouped for the operator to name
    const clusters = (await (await fetch(`${base}/api/unknowns`)).json()) as Array<{
      sightings: number;
      cameras: Array<{ camera: string }>;
      summary: string;
    }>;
    expect(clusters.length).toBeGreaterThan(0);
    expect(clusters[0]?.cameras.map((c) => c.camera)).toEqual(['stage']);
    expect(clusters[0]?.summary).toMatch(/seen \d+ times? on/);
  });

  it('times every name: vigil_time_to_name_seconds per camera, first usable look to named decision', async () => {
    const m = await (await fetch(`${base}/metrics`)).text();
    const count = Number(m.match(/vigil_time_to_name_seconds_count\{stream="stage"\} (\d+)/)?.[1] ?? 0);
    // the values behind the histogram, one per named track (exact percentiles)
    const values = [...(vigil.metrics.recentTimeToName.get('stage') ?? [])].sort((a, b) => a - b);
    // every enrolled person was named on at least one track (the alerts above), each timed once
    expect(count).toBeGreaterThanOrEqual(3);
    expect(values.length).toBe(count);
    expect(values.every((v) => Number.isFinite(v) && v >= 0 && v < 120)).toBe(true);
    const sum = Number(m.match(/vigil_time_to_name_seconds_sum\{stream="stage"\} ([\d.e+-]+)/)?.[1]);
    expect(sum).toBeCloseTo(
      values.reduce((a, b) => a + b, 0),
      3,
    );
    // tracks end named, unnamed (the audience) or with no usable look
    expect(m).toMatch(/vigil_tracks_ended_total\{stream="stage",outcome="named"\} [1-9]/);
    expect(m).toMatch(/vigil_tracks_ended_total\{stream="stage",outcome="unnamed"\} [1-9]/);
    const at = (q: number) => values[Math.min(values.length - 1, Math.ceil(q * values.length) - 1)] as number;
    // issue #14's target; p95 (<= 2 s) is reported, not asserted: with ~10 named tracks it is the
    // slowest one, and a track whose first three looks miss waits refreshMs (3 s) for the next
    expect(at(0.5)).toBeLessThanOrEqual(1);
    console.log(
      `time to name on "stage": n=${values.length} p50=${at(0.5).toFixed(2)} s p95=${at(0.95).toFixed(2)} s max=${at(1).toFixed(2)} s; [${values.map((v) => v.toFixed(2)).join(' ')}]`,
    );
  });

  it('enrolls the face on the live camera now (the page’s "take the current face")', async () => {
    const bad = await fetch(`${base}/api/people/from-stream/nope?name=x`, { method: 'POST' });
    expect(bad.status).toBe(404);
    expect(((await bad.json()) as { error: string }).error).toContain('no stream "nope"');
    let res: Response | undefined;
    for (let i = 0; i < 40; i++) {
      res = await fetch(
        `${base}/api/people/from-stream/stage?name=${encodeURIComponent('person on stage')}`,
        { method: 'POST' },
      );
      if (res.status === 201) break;
      expect([422, 201]).toContain(res.status); // 422: no face on camera at this moment (audience shots)
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(res?.status).toBe(201);
    const people = (await (await fetch(`${base}/api/people`)).json()) as Array<{ name: string }>;
    expect(people.map((p) => p.name)).toContain('person on stage');
  });
});
