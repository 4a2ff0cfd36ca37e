// Main-thread copies of frame pixels per decoded frame, by site, with the whole service running:
// the demo stream (faces) through detect -> recognize -> style -> annotate -> encode, three viewers
// (unstyled, a style at strength 1 and at 0.5). Counts come from vigil_frame_copies_total.
// npm run bench -- frame-copies [--seconds 20] [--style starry-night]
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Vigil } from '../src/app.js';
import { validateConfig } from '../src/config/load.js';
import { FRAME_COPY_SITES } from '../src/util/frame-copies.js';
import { metricSum, parseMetrics, TestViewer } from '../test/helpers/ws-client.js';
import { machine, printTable, progress, writeResult } from './_util.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '20' },
    style: { type: 'string', default: 'starry-night' },
  },
});
const seconds = Number(values.seconds);
const dataDir = mkdtempSync(join(tmpdir(), 'vigil-copies-'));
const pipeline = join(dataDir, 'copies.yaml');
writeFileSync(
  pipeline,
  `name: copies
stages:
  - detect: {}
  - recognize: {}
  - style: { default: none, smoothing: 0.6 }
  - annotate: {}
  - encode: { format: jpeg }
`,
);
const vigil = await Vigil.start(
  validateConfig({
    server: { host: '127.0.0.1', port: 0 },
    log: { level: 'warn' },
    pipeline,
    dataDir,
    inference: { backend: 'wasm' },
    streams: [{ id: 'demo', demo: true, width: 640, height: 360, detectFps: 5, displayFps: 5 }],
  }),
);
const url = `ws://127.0.0.1:${vigil.address.port}/ws`;
const viewers: TestViewer[] = [];
for (const sub of [{}, { style: values.style, strength: 1 }, { style: values.style, strength: 0.5 }]) {
  const v = await TestViewer.connect(url, []);
  v.ws.send(JSON.stringify({ type: 'subscribe', streams: ['demo'], ...sub }));
  viewers.push(v);
}
const scrape = async () =>
  parseMetrics(await (await fetch(`http://127.0.0.1:${vigil.address.port}/metrics`)).text());
// every site of src/util/frame-copies.ts (before shared frames: inference_dispatch, style_dispatch too)
const SITES: readonly string[] = FRAME_COPY_SITES;
const counts = (m: Map<string, number>) => ({
  decoded: metricSum(m, 'vigil_frames_decoded_total'),
  inferred: metricSum(m, 'vigil_frames_processed_total'),
  styled: metricSum(m, 'vigil_style_frames_total'),
  embedRequests: metricSum(m, 'vigil_inference_duration_seconds_count', { model: 'faceres' }),
  sent: metricSum(m, 'vigil_frames_sent_total'),
  ...Object.fromEntries(SITES.map((site) => [site, metricSum(m, 'vigil_frame_copies_total', { site })])),
});
// warm-up (models, style load), then the difference over `seconds`
await new Promise((r) => setTimeout(r, 8000));
const a = counts(await scrape());
progress(`measuring ${seconds} s`);
await new Promise((r) => setTimeout(r, seconds * 1000));
const b = counts(await scrape());
for (const v of viewers) v.close();
await vigil.stop();
const d = Object.fromEntries(
  Object.keys(b).map((k) => [
    k,
    ((b as Record<string, number>)[k] ?? 0) - ((a as Record<string, number>)[k] ?? 0),
  ]),
) as Record<string, number>;
const decoded = Math.max(1, d.decoded ?? 0);
const total = SITES.reduce((s, k) => s + (d[k] ?? 0), 0);
printTable([
  ...SITES.map((site) => ({
    site,
    copies: d[site] ?? 0,
    perDecodedFrame: ((d[site] ?? 0) / decoded).toFixed(2),
  })),
  { site: 'all', copies: total, perDecodedFrame: (total / decoded).toFixed(2) },
]);
progress(
  `${d.decoded} frames decoded, ${d.inferred} inferred, ${d.embedRequests} embed requests, ${d.styled} stylised, ${d.sent} sent`,
);
writeResult('frame-copies', { machine: machine(), seconds, ...d, copiesPerDecodedFrame: total / decoded });
