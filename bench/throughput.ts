// Throughput: N concurrent 640x360 streams through decode + detection + encode + WebSocket.
// npm run bench -- throughput [--streams 1,2,4] [--seconds 20] [--warmup 5] [--workers 1] [--pipeline detect]
// 'main ms/frame' is the main thread's busy time (event-loop utilisation) per decoded frame: the
// work left on the one thread every stream shares, which copies and per-pixel loops used to fill.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Vigil } from '../src/app.js';
import { validateConfig } from '../src/config/load.js';
import { resolveFfmpeg } from '../src/sources/ffmpeg.js';
import { liveFfmpegPids } from '../src/sources/stream-source.js';
import { TestViewer } from '../test/helpers/ws-client.js';
import { machine, percentile, printTable, procCpuSeconds, progress, writeResult } from './_util.js';

const { values } = parseArgs({
  options: {
    streams: { type: 'string', default: '1,2,4' },
    seconds: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '5' },
    workers: { type: 'string', default: '1' },
    /** pipelines/NAME.yaml: detect (detection only) or recognize (detect, track, embed, match, alert). */
    pipeline: { type: 'string', default: 'detect' },
    detectFps: { type: 'string', default: '5' },
    displayFps: { type: 'string', default: '15' },
    maxBatch: { type: 'string', default: '8' },
    /** Write results under this name (bench/results/NAME.json), e.g. batching-8. */
    name: { type: 'string', default: 'throughput' },
    /** 640x360 (the clip as it is) or 720p (a 1280x720 copy, scaled down by ffmpeg). */
    input: { type: 'string', default: '360p' },
  },
});
const counts = (values.streams as string).split(',').map(Number);
const seconds = Number(values.seconds);
const warmup = Number(values.warmup);
const clip = join(process.cwd(), '..', 'shared', 'data', 'video', 'short_hamilton_clip.mp4');
let video = clip;
if (values.input === '720p' && existsSync(clip)) {
  // 1280x720 H.264 input: ffmpeg decodes it and scales it to 640x360 for Vigil
  video = join(tmpdir(), 'vigil-bench-720p.mp4');
  if (!existsSync(video)) {
    progress('making a 1280x720 copy of the clip');
    execFileSync(resolveFfmpeg().path, [
      '-loglevel',
      'error',
      '-y',
      '-i',
      clip,
      '-vf',
      'scale=1280:720',
      '-c:v',
      'libx264',
      '-preset',
      'veryfast',
      '-an',
      video,
    ]);
  }
}
const input = existsSync(video) ? { url: video, loop: true, realtime: true } : { demo: true };
const inputName = existsSync(video)
  ? `shared/data/video/short_hamilton_clip.mp4${values.input === '720p' ? ' upscaled to 1280x720' : ''} (looped, real-time)`
  : 'embedded demo (../shared/data absent)';
progress(`input: ${inputName}`);

/** The inference backend, from the metrics (the same on every version of Vigil this bench compares). */
async function backendOf(vigil: Vigil): Promise<string | undefined> {
  const m = await vigil.metrics.registry.getMetricsAsJSON();
  return m.find((x) => x.name === 'vigil_inference_backend_info')?.values[0]?.labels.backend as
    | string
    | undefined;
}

const rows: Array<Record<string, string | number>> = [];
const runs: unknown[] = [];
const batchSizes = (values.maxBatch as string).split(',').map(Number);
for (const n of counts)
  for (const maxBatch of batchSizes) {
    progress(`${n} stream(s), maxBatch ${maxBatch}: starting`);
    const vigil = await Vigil.start(
      validateConfig({
        server: { host: '127.0.0.1', port: 0 },
        log: { level: 'warn' },
        pipeline: values.pipeline as string,
        dataDir: mkdtempSync(join(tmpdir(), 'vigil-bench-')),
        inference: { backend: 'wasm', workers: Number(values.workers), maxBatch, maxWaitMs: 10 },
        streams: Array.from({ length: n }, (_, i) => ({
          id: `s${i + 1}`,
          ...input,
          width: 640,
          height: 360,
          detectFps: Number(values.detectFps),
          displayFps: Number(values.displayFps),
        })),
      }),
    );
    const viewer = await TestViewer.connect(`ws://127.0.0.1:${vigil.address.port}/ws`);
    await new Promise((r) => setTimeout(r, warmup * 1000));
    const snap = async () => {
      const m = await vigil.metrics.registry.getMetricsAsJSON();
      const sum = (name: string, pred: (l: Record<string, string | number>) => boolean = () => true) =>
        (m.find((x) => x.name === name)?.values ?? [])
          .filter((v) => pred(v.labels as Record<string, string | number>))
          .reduce((a, v) => a + v.value, 0);
      return {
        decoded: sum('vigil_frames_decoded_total'),
        processed: sum('vigil_frames_processed_total'),
        sent: sum('vigil_frames_sent_total'),
        dropped: sum('vigil_frames_dropped_total'),
        batches: (m.find((x) => x.name === 'vigil_batch_size')?.values ?? [])
          .filter((v) => (v as { metricName?: string }).metricName === 'vigil_batch_size_count')
          .reduce((a, v) => a + v.value, 0),
        framesInBatches: (m.find((x) => x.name === 'vigil_batch_size')?.values ?? [])
          .filter((v) => (v as { metricName?: string }).metricName === 'vigil_batch_size_sum')
          .reduce((a, v) => a + v.value, 0),
        cpu: process.cpuUsage(),
        elu: performance.eventLoopUtilization(),
        ffmpegCpu: liveFfmpegPids().reduce((a, p) => a + procCpuSeconds(p), 0),
        t: performance.now(),
        received: viewer.received,
      };
    };
    const a = await snap();
    const latencies: number[] = [];
    viewer.onFrame = (f) => latencies.push(f.receivedAt - f.header.captureTs);
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const b = await snap();
    viewer.onFrame = undefined;
    latencies.sort((x, y) => x - y);
    const el = (b.t - a.t) / 1000;
    const nodeCpu = (b.cpu.user - a.cpu.user + b.cpu.system - a.cpu.system) / 1e6;
    const ffCpu = b.ffmpegCpu - a.ffmpegCpu;
    const mainBusyMs = performance.eventLoopUtilization(b.elu, a.elu).active;
    const row = {
      streams: n,
      maxBatch,
      'mean batch': (b.framesInBatches - a.framesInBatches) / Math.max(1, b.batches - a.batches),
      'decoded fps/stream': (b.decoded - a.decoded) / el / n,
      'detected fps/stream': (b.processed - a.processed) / el / n,
      'shown fps/stream': (b.received - a.received) / el / n,
      'c2s p50 ms': percentile(latencies, 50),
      'c2s p95 ms': percentile(latencies, 95),
      'drops/s': (b.dropped - a.dropped) / el,
      'drop ratio %': ((b.dropped - a.dropped) / Math.max(1, b.decoded - a.decoded)) * 100,
      'node CPU %': (nodeCpu / el) * 100,
      'main ms/frame': mainBusyMs / Math.max(1, b.decoded - a.decoded),
      'ffmpeg CPU %': (ffCpu / el) * 100,
    };
    // The capacity criterion: real time = under 1% of decoded frames dropped and capture-to-send p95 < 250 ms.
    (row as Record<string, string | number>)['real-time'] =
      (row['drop ratio %'] as number) < 1 && (row['c2s p95 ms'] as number) < 250 ? 'yes' : 'no';
    rows.push(row);
    runs.push({ ...row, seconds: el, latencySamples: latencies.length, backend: await backendOf(vigil) });
    progress(
      `${n} stream(s): ${row['shown fps/stream'].toFixed(1)} fps shown per stream, p95 ${row['c2s p95 ms']} ms`,
    );
    viewer.close();
    await vigil.stop();
  }
console.log(
  `\nthroughput: pipeline ${values.pipeline}: decode + BlazeFace detection (${values.detectFps} fps)${values.pipeline === 'detect' ? '' : ' + its other stages'} + JPEG encode + WebSocket, 640x360, display ${values.displayFps} fps`,
);
console.log(`input: ${inputName}; CPU % is of one core (the machine has ${machine().cpus})\n`);
printTable(rows);
const file = writeResult(values.name as string, {
  bench: 'throughput',
  date: new Date().toISOString(),
  machine: machine(),
  input: inputName,
  params: values,
  runs,
});
console.log(`\nwritten: ${file}`);
