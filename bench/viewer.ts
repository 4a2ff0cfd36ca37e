// Viewer: N camera tiles in one page of real headless Chromium, fed by a real Vigil (ffmpeg test
// sources, one per tile). Measures what the page costs and what it shows: main-thread busy time
// (CDP Performance.getMetrics TaskDuration), CPU of all Chromium processes, frames shown per second
// per tile (counted in the page), capture-to-display latency (the page's own `displayed` reports).
// npm run bench -- viewer [--tiles 16] [--size 320x180] [--fps 10] [--pipeline passthrough,detect]
//                         [--detectFps 2] [--seconds 20] [--warmup 6]
import { readdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Vigil } from '../src/app.js';
import { validateConfig } from '../src/config/load.js';
import { liveFfmpegPids } from '../src/sources/stream-source.js';
import { browserUnavailable, launchBrowser } from '../test/helpers/browser.js';
import { machine, percentile, printTable, procCpuSeconds, progress, writeResult } from './_util.js';

const { values } = parseArgs({
  options: {
    tiles: { type: 'string', default: '16' },
    size: { type: 'string', default: '320x180' },
    fps: { type: 'string', default: '10' },
    pipeline: { type: 'string', default: 'passthrough' },
    detectFps: { type: 'string', default: '2' },
    seconds: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '6' },
  },
});
const unavailable = browserUnavailable();
if (unavailable) {
  console.error(`viewer bench needs Chromium: ${unavailable}`);
  process.exit(1);
}
const tiles = Number(values.tiles);
const [width, height] = (values.size as string).split('x').map(Number) as [number, number];
const fps = Number(values.fps);
const seconds = Number(values.seconds);
const warmup = Number(values.warmup);
const VIEWPORT = { width: 1920, height: 1080 };

/** Chromium's processes (browser, renderers, GPU, utilities): descendants of this process. */
function chromiumPids(): number[] {
  const parent = new Map<number, number>();
  const comm = new Map<number, string>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      comm.set(Number(d), stat.slice(stat.indexOf('(') + 1, close));
      parent.set(Number(d), Number(stat.slice(close + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const mine = (pid: number): boolean => {
    for (let p = parent.get(pid), i = 0; p !== undefined && p > 1 && i < 64; p = parent.get(p), i++)
      if (p === process.pid) return true;
    return false;
  };
  return [...comm].filter(([pid, c]) => /chrom/i.test(c) && mine(pid)).map(([pid]) => pid);
}

interface TileSnap {
  id: string;
  framesShown: number;
  subscribed: boolean;
  latencyMs: number | null;
}

const rows: Array<Record<string, string | number>> = [];
const runs: unknown[] = [];
for (const pipeline of (values.pipeline as string).split(',')) {
  progress(`${pipeline}: starting Vigil with ${tiles} ffmpeg test sources at ${width}x${height}, ${fps} fps`);
  const vigil = await Vigil.start(
    validateConfig({
      server: { host: '127.0.0.1', port: 0 },
      log: { level: 'warn' },
      pipeline,
      inference: { backend: 'wasm', workers: 1, maxBatch: 16, maxWaitMs: 10 },
      streams: Array.from({ length: tiles }, (_, i) => ({
        id: `cam${String(i + 1).padStart(2, '0')}`,
        lavfi: `testsrc2=size=${width}x${height}:rate=${fps}`,
        width,
        height,
        displayFps: fps,
        detectFps: Math.min(fps, Number(values.detectFps)),
      })),
    }),
  );
  const browser = await launchBrowser();
  const page = await browser.newPage({ viewport: VIEWPORT });
  await page.goto(`http://127.0.0.1:${vigil.address.port}/`);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  progress(`${pipeline}: page open, warming up ${warmup} s`);
  await page.waitForFunction(
    (n) => (window as unknown as { vigil: { subscribed: string[] } }).vigil.subscribed.length === n,
    tiles,
    {
      timeout: 20_000,
    },
  );
  await new Promise((r) => setTimeout(r, warmup * 1000));

  const snap = async () => {
    const perf = (await cdp.send('Performance.getMetrics')).metrics;
    const metric = (name: string) => perf.find((m) => m.name === name)?.value ?? 0;
    const m = await vigil.metrics.registry.getMetricsAsJSON();
    const sum = (name: string, pred: (l: Record<string, string | number>) => boolean = () => true) =>
      (m.find((x) => x.name === name)?.values ?? [])
        .filter((v) => pred(v.labels as Record<string, string | number>))
        .reduce((a, v) => a + v.value, 0);
    // a histogram's _sum / _count samples
    const part = (name: string, suffix: string) =>
      (m.find((x) => x.name === name)?.values ?? [])
        .filter((v) => (v as { metricName?: string }).metricName === name + suffix)
        .reduce((a, v) => a + v.value, 0);
    return {
      t: performance.now(),
      task: metric('TaskDuration'),
      script: metric('ScriptDuration'),
      layout: metric('LayoutDuration') + metric('RecalcStyleDuration'),
      heapMiB: metric('JSHeapUsedSize') / 2 ** 20,
      chromeCpu: chromiumPids().reduce((a, p) => a + procCpuSeconds(p), 0),
      nodeCpu: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
      ffmpegCpu: liveFfmpegPids().reduce((a, p) => a + procCpuSeconds(p), 0),
      sent: sum('vigil_frames_sent_total'),
      processed: sum('vigil_frames_processed_total'),
      dropped: sum('vigil_frames_dropped_total'),
      c2dSum: part('vigil_capture_to_display_seconds', '_sum'),
      c2dCount: part('vigil_capture_to_display_seconds', '_count'),
      tiles: await page.evaluate(() =>
        (window as unknown as { vigil: { tiles(): TileSnap[] } }).vigil.tiles(),
      ),
    };
  };
  const a = await snap();
  for (let s = 0; s < seconds; s += 5) {
    await new Promise((r) => setTimeout(r, Math.min(5, seconds - s) * 1000));
    progress(`${pipeline}: measuring, ${Math.min(seconds, s + 5)}/${seconds} s`);
  }
  const b = await snap();
  const el = (b.t - a.t) / 1000;
  const before = new Map(a.tiles.map((t) => [t.id, t.framesShown]));
  const perTile = b.tiles.map((t) => (t.framesShown - (before.get(t.id) ?? 0)) / el).sort((x, y) => x - y);
  const row = {
    pipeline,
    tiles: b.tiles.length,
    subscribed: b.tiles.filter((t) => t.subscribed).length,
    'shown fps/tile min': perTile[0] ?? 0,
    median: percentile(perTile, 50),
    max: perTile.at(-1) ?? 0,
    'sent fps/tile': (b.sent - a.sent) / el / tiles,
    'c2d mean ms':
      b.c2dCount > a.c2dCount ? ((b.c2dSum - a.c2dSum) / (b.c2dCount - a.c2dCount)) * 1000 : Number.NaN,
    'page main thread %': ((b.task - a.task) / el) * 100,
    'Chromium CPU %': ((b.chromeCpu - a.chromeCpu) / el) * 100,
    'Vigil CPU %': ((b.nodeCpu - a.nodeCpu) / el) * 100,
    'ffmpeg CPU %': ((b.ffmpegCpu - a.ffmpegCpu) / el) * 100,
    'drops/s': (b.dropped - a.dropped) / el,
  };
  rows.push(row);
  runs.push({
    ...row,
    seconds: el,
    'detected fps/tile': (b.processed - a.processed) / el / tiles,
    'page script %': ((b.script - a.script) / el) * 100,
    'page layout+style %': ((b.layout - a.layout) / el) * 100,
    'page JS heap MiB': b.heapMiB,
    shownFpsPerTile: perTile,
  });
  progress(
    `${pipeline}: ${row.median.toFixed(1)} fps shown per tile (median), page main thread ${row['page main thread %'].toFixed(0)}%`,
  );
  await browser.close();
  await vigil.stop();
}

console.log(
  `\nviewer: ${tiles} tiles of ${width}x${height} at ${fps} fps (ffmpeg testsrc2) in one headless Chromium page ` +
    `(${VIEWPORT.width}x${VIEWPORT.height}, software rendering), ${seconds} s measured after ${warmup} s`,
);
console.log(
  `CPU % is of one core (the machine has ${machine().cpus}); page main thread % = CDP TaskDuration per second; ` +
    'c2d = capture-to-display latency reported by the page\n',
);
printTable(rows);
const file = writeResult('viewer', {
  bench: 'viewer',
  date: new Date().toISOString(),
  machine: machine(),
  params: { ...values, viewport: VIEWPORT },
  runs,
});
console.log(`\nwritten: ${file}`);
