import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Vigil } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';
import { type RtspTestServer, rtspServerAvailable, startRtspServer } from '../helpers/rtsp-server.js';
import { metricSum, parseMetrics, TestViewer } from '../helpers/ws-client.js';
import { skipUnless } from '../helpers/requirements.js';

const unavailable = await rtspServerAvailable();
const skip = skipUnless(unavailable, 'service tests over RTSP');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function scrape(v: Vigil): Promise<Map<string, number>> {
  const res = await fetch(`http://127.0.0.1:${v.address.port}/metrics`);
  expect(res.status).toBe(200);
  return parseMetrics(await res.text());
}

// Three concurrent sources of three kinds, only one of which shows faces: the embedded demo (face
// photos), a real RTSP stream (synthetic pattern) and an ffmpeg lavfi pattern.
describe.skipIf(skip)('Vigil end to end: three sources, batched detection, WebSocket, metrics', () => {
  let rtsp: RtspTestServer;
  let vigil: Vigil;
  let viewer: TestViewer;
  const MAX_BUFFERED = 256 * 1024;

  beforeAll(async () => {
    rtsp = await startRtspServer({ width: 640, height: 360, fps: 15 });
    const common = {
      width: 640,
      height: 360,
      detectFps: 5,
      displayFps: 10,
      watchdogSeconds: 4,
      reconnect: { initialMs: 200, maxMs: 1000 },
    };
    vigil = await Vigil.start(
      validateConfig({
        server: { host: '127.0.0.1', port: 0 },
        log: { level: 'silent' },
        pipeline: 'detect',
        // debugDelayMs: each batch holds the worker 60 ms longer, so frames of the three streams queue
        // and batch; with the fast default engine (ONNX Runtime, ~9 ms a frame) every batch could
        // otherwise hold one frame (a clean-checkout run saw 74 batches of 74 frames)
        inference: { backend: 'wasm', workers: 1, maxBatch: 8, maxWaitMs: 40, debugDelayMs: 60 },
        output: { maxBufferedBytes: MAX_BUFFERED, burnIn: true },
        streams: [
          { id: 'faces', demo: true, ...common },
          { id: 'cam', url: rtsp.url, ...common },
          { id: 'pattern', lavfi: 'testsrc2=size=640x360:rate=15', ...common },
        ],
      }),
    );
    viewer = await TestViewer.connect(`ws://127.0.0.1:${vigil.address.port}/ws`);
  });

  afterAll(async () => {
    viewer?.close();
    await vigil?.stop();
    await rtsp?.stop();
  });

  it('a viewer receives decodable JPEG frames whose metadata matches, from every stream', async () => {
    await viewer.waitFor(
      (v) => new Set(v.frames.map((f) => f.header.stream)).size === 3,
      20_000,
      'frames of all 3 streams',
    );
    const hello = viewer.events.find((e) => e.type === 'hello');
    expect(hello?.pipeline).toBe('detect');
    for (const f of viewer.frames.slice(-9)) {
      const meta = await sharp(f.jpeg).metadata();
      expect(meta.format).toBe('jpeg');
      expect([meta.width, meta.height]).toEqual([f.header.width, f.header.height]);
      expect([f.header.width, f.header.height]).toEqual([640, 360]);
      expect(f.header.sentTs).toBeGreaterThanOrEqual(f.header.captureTs);
      expect(f.receivedAt - f.header.captureTs).toBeLessThan(5000);
    }
    for (const id of ['faces', 'cam', 'pattern']) {
      const seqs = viewer.frames.filter((f) => f.header.stream === id).map((f) => f.header.seq);
      expect(seqs, id).toEqual([...seqs].sort((a, b) => a - b));
    }
  });

  it('batches frames across streams and routes every result back to its own stream', async () => {
    await sleep(4000);
    const m = await scrape(vigil);
    const batches = metricSum(m, 'vigil_batch_size_count');
    const framesInBatches = metricSum(m, 'vigil_batch_size_sum');
    expect(batches).toBeGreaterThan(5);
    expect(framesInBatches).toBeGreaterThan(batches); // some batches held more than one frame
    expect(metricSum(m, 'vigil_batch_size_bucket', { le: '1' })).toBeLessThan(batches);
    // Only the demo stream shows faces: detections must land there and nowhere else.
    expect(metricSum(m, 'vigil_detections_total', { stream: 'faces' })).toBeGreaterThan(0);
    expect(metricSum(m, 'vigil_detections_total', { stream: 'cam' })).toBe(0);
    expect(metricSum(m, 'vigil_detections_total', { stream: 'pattern' })).toBe(0);
    for (const id of ['faces', 'cam', 'pattern'])
      expect(metricSum(m, 'vigil_frames_processed_total', { stream: id }), id).toBeGreaterThan(3);
    const faceFrames = viewer.frames.filter(
      (f) => f.header.stream === 'faces' && f.header.detections.length > 0,
    );
    expect(faceFrames.length).toBeGreaterThan(0);
    expect(
      viewer.frames.filter((f) => f.header.stream !== 'faces').every((f) => f.header.detections.length === 0),
    ).toBe(true);
    // The detections drawn on a frame come from an earlier (or the same) frame of the same stream.
    for (const f of faceFrames) expect(f.header.detectionSeq).toBeLessThanOrEqual(f.header.seq);
    // burnIn: the box is drawn into the JPEG (green outline, the colour of a face without a name).
    const f = faceFrames.at(-1) as (typeof faceFrames)[number];
    expect(f.header.annotated).toBe(true);
    const { data, info } = await sharp(f.jpeg).raw().toBuffer({ resolveWithObject: true });
    const d = f.header.detections[0] as { box: [number, number, number, number] };
    const x = Math.round((d.box[0] + d.box[2]) / 2);
    const y = Math.round(Math.max(0, d.box[1]));
    const o = (y * info.width + x) * info.channels;
    const [r, g, b] = [data[o] as number, data[o + 1] as number, data[o + 2] as number];
    expect(g, `pixel ${r},${g},${b} at the box's top edge`).toBeGreaterThan(140);
    expect(r).toBeLessThan(90);
    expect(b).toBeLessThan(130);
  });

  it('a client that stops reading skips frames instead of growing server memory; others are unaffected', async () => {
    const slow = await TestViewer.connect(`ws://127.0.0.1:${vigil.address.port}/ws`);
    await slow.waitFor((v) => v.frames.length > 3, 10_000, 'first frames for the slow client');
    const before = await scrape(vigil);
    slow.pauseReading();
    const lastSeqAtPause = Math.max(...slow.frames.map((f) => f.header.seq));
    const fastBefore = viewer.received;
    let maxBuffered = 0;
    const rssStart = process.memoryUsage().rss;
    const slowDrops = async () =>
      metricSum(await scrape(vigil), 'vigil_frames_dropped_total', { reason: 'client_slow' }) -
      metricSum(before, 'vigil_frames_dropped_total', { reason: 'client_slow' });
    // The kernel's socket buffers (several MB on loopback) fill first; then the server must skip.
    const t0 = Date.now();
    let dropsSeenAt = 0;
    while (Date.now() - t0 < 30_000) {
      await sleep(100);
      maxBuffered = Math.max(maxBuffered, ...vigil.context.hub.bufferedAmounts());
      if (!dropsSeenAt && (await slowDrops()) > 0) dropsSeenAt = Date.now();
      if (dropsSeenAt && Date.now() - dropsSeenAt > 3000) break;
    }
    expect(await slowDrops()).toBeGreaterThan(10);
    // Bounded: the limit plus at most one message (a 640x360 JPEG with its header).
    expect(maxBuffered).toBeLessThan(MAX_BUFFERED + 200 * 1024);
    expect(process.memoryUsage().rss - rssStart).toBeLessThan(100 * 1024 * 1024);
    // The normal viewer kept getting ~10 fps x 3 streams meanwhile.
    expect(viewer.received - fastBefore).toBeGreaterThan(((Date.now() - t0) / 1000) * 20);
    slow.resumeReading();
    await slow.waitFor(
      (v) => v.frames.some((f) => f.header.seq > lastSeqAtPause + 20),
      10_000,
      'fresh frames after resuming',
    );
    slow.close();
  });

  it('a stream whose server dies reconnects by itself; the state and reconnects show in metrics', async () => {
    await rtsp.kill();
    const retrying = () => vigil.context.sources.find((s) => s.id === 'cam')?.status.state === 'retrying';
    for (let i = 0; i < 100 && !retrying(); i++) await sleep(100);
    expect(retrying()).toBe(true);
    const m = await scrape(vigil);
    expect(metricSum(m, 'vigil_stream_state', { stream: 'cam', state: 'retrying' })).toBe(1);
    expect(
      viewer.events.some(
        (e) =>
          e.type === 'status' &&
          (e.status as { state: string; id: string }).id === 'cam' &&
          (e.status as { state: string }).state === 'retrying',
      ),
    ).toBe(true);
    await rtsp.restart();
    const live = () => vigil.context.sources.find((s) => s.id === 'cam')?.status.state === 'live';
    for (let i = 0; i < 150 && !live(); i++) await sleep(100);
    expect(live()).toBe(true);
    const m2 = await scrape(vigil);
    expect(metricSum(m2, 'vigil_stream_reconnects_total', { stream: 'cam' })).toBeGreaterThanOrEqual(1);
    expect(metricSum(m2, 'vigil_stream_state', { stream: 'cam', state: 'live' })).toBe(1);
  });

  it('/metrics exposes every spine metric with non-zero values', async () => {
    // The page reports capture-to-display latency; do it as a browser would.
    viewer.ws.send(JSON.stringify({ type: 'displayed', stream: 'faces', seq: 1, latencyMs: 120 }));
    await sleep(300);
    const m = await scrape(vigil);
    const nonZero = [
      'vigil_frames_decoded_total',
      'vigil_frames_processed_total',
      'vigil_frames_sent_total',
      'vigil_frames_dropped_total',
      'vigil_capture_to_send_seconds_count',
      'vigil_capture_to_display_seconds_count',
      'vigil_inference_duration_seconds_count',
      'vigil_batch_size_count',
      'vigil_stream_reconnects_total',
      'vigil_ws_clients',
      'vigil_ws_sent_bytes_total',
      'vigil_detections_total',
      'vigil_inference_backend_info',
      'process_cpu_seconds_total',
      'nodejs_eventloop_lag_p99_seconds',
    ];
    for (const name of nonZero) expect(metricSum(m, name), name).toBeGreaterThan(0);
    for (const stage of ['decode', 'queue_wait', 'inference', 'encode', 'send'])
      expect(metricSum(m, 'vigil_stage_duration_seconds_count', { stage }), stage).toBeGreaterThan(0);
    for (const id of ['faces', 'cam', 'pattern'])
      expect(metricSum(m, 'vigil_stream_state', { stream: id, state: 'live' }), id).toBe(1);
    // Event-loop lag as Vigil samples it (5 s window) is exported too.
    expect(m.has('vigil_event_loop_lag_seconds')).toBe(true);
  });
});

describe('latest-frame-wins under an artificially slow inference stage', () => {
  it('keeps at most one waiting frame per stream and counts what it drops', async () => {
    const vigil = await Vigil.start(
      validateConfig({
        server: { host: '127.0.0.1', port: 0 },
        log: { level: 'silent' },
        inference: { backend: 'wasm', workers: 1, maxBatch: 8, maxWaitMs: 5, debugDelayMs: 600 },
        streams: ['a', 'b', 'c'].map((id, i) => ({
          id,
          lavfi: `testsrc2=size=320x180:rate=10,hue=h=${i * 90}`,
          width: 320,
          height: 180,
          detectFps: 10,
          displayFps: 10,
        })),
      }),
    );
    try {
      let maxPending = 0;
      const drops: number[] = [];
      for (let i = 0; i < 8; i++) {
        await sleep(500);
        const m = await scrape(vigil);
        maxPending = Math.max(maxPending, metricSum(m, 'vigil_inference_pending_frames'));
        drops.push(metricSum(m, 'vigil_frames_dropped_total', { reason: 'inference_busy' }));
      }
      const m = await scrape(vigil);
      expect(maxPending).toBeLessThanOrEqual(3);
      expect(drops.at(-1)).toBeGreaterThan(drops[1] as number); // still rising
      const decoded = metricSum(m, 'vigil_frames_decoded_total');
      const processed = metricSum(m, 'vigil_frames_processed_total');
      const dropped = metricSum(m, 'vigil_frames_dropped_total', { reason: 'inference_busy' });
      expect(processed).toBeGreaterThan(0);
      expect(processed).toBeLessThan(decoded / 3);
      // every detection-due frame is either processed, dropped, or one of <= 3 waiting / in flight
      expect(decoded - processed - dropped).toBeLessThanOrEqual(3 + 3 + decoded * 0.05);
      expect(metricSum(m, 'vigil_frames_dropped_total', { reason: 'pool_exhausted' })).toBe(0);
    } finally {
      await vigil.stop();
    }
  });
});
