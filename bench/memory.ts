// Memory over a long run with churn: RSS, heap and the inference worker's live tensors, sampled while
// viewers join and leave and a stream dies and comes back. Flat after warm-up means no leak.
// npm run bench -- memory [--minutes 10] [--streams 4] [--sample 15]
import { parseArgs } from 'node:util';
import { Vigil } from '../src/app.js';
import { validateConfig } from '../src/config/load.js';
import { TestViewer } from '../test/helpers/ws-client.js';
import { machine, printTable, progress, writeResult } from './_util.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    streams: { type: 'string', default: '4' },
    sample: { type: 'string', default: '15' },
  },
});
const minutes = Number(values.minutes);
const sampleS = Number(values.sample);
const n = Number(values.streams);

const vigil = await Vigil.start(
  validateConfig({
    server: { host: '127.0.0.1', port: 0 },
    log: { level: 'warn' },
    pipeline: 'detect',
    inference: { backend: 'wasm', workers: 1 },
    streams: Array.from({ length: n }, (_, i) =>
      i === 0
        ? { id: 's1', demo: true, width: 640, height: 360, detectFps: 5, displayFps: 10 }
        : {
            id: `s${i + 1}`,
            lavfi: `testsrc2=size=640x360:rate=10`,
            width: 640,
            height: 360,
            detectFps: 5,
            displayFps: 10,
          },
    ),
  }),
);
const url = `ws://127.0.0.1:${vigil.address.port}/ws`;
const steady = await TestViewer.connect(url);
const churn: TestViewer[] = [];
const rows: Array<Record<string, string | number>> = [];
const t0 = Date.now();
const gauge = async (name: string) =>
  (await vigil.metrics.registry.getSingleMetric(name)?.get())?.values[0]?.value ?? 0;
let tick = 0;
let kills = 0;
while (Date.now() - t0 < minutes * 60_000) {
  await new Promise((r) => setTimeout(r, sampleS * 1000));
  tick++;
  // churn: two viewers join, the oldest churn viewers leave; every third sample a stream's ffmpeg dies
  churn.push(await TestViewer.connect(url), await TestViewer.connect(url));
  while (churn.length > 4) churn.shift()?.close();
  if (tick % 3 === 0) {
    vigil.context.sources[tick % n]?.process?.kill('SIGKILL');
    kills++;
  }
  global.gc?.();
  const mem = process.memoryUsage();
  const row = {
    minute: (Date.now() - t0) / 60_000,
    'RSS MiB': mem.rss / 2 ** 20,
    'heap MiB': mem.heapUsed / 2 ** 20,
    'external MiB': (mem.external + mem.arrayBuffers) / 2 ** 20,
    'worker tensors': await gauge('vigil_inference_worker_tensors'),
    'ws clients': vigil.context.hub.clientCount,
    'frames shown (steady viewer)': steady.received,
    'ffmpeg kills': kills,
  };
  rows.push(row);
  progress(
    `${row.minute.toFixed(1)} min: RSS ${row['RSS MiB'].toFixed(0)} MiB, tensors ${row['worker tensors']}`,
  );
}
for (const c of churn) c.close();
steady.close();
await vigil.stop();
const warm = rows.slice(Math.floor(rows.length / 4));
const first = warm[0] as (typeof rows)[number];
const last = rows.at(-1) as (typeof rows)[number];
console.log(
  `\nmemory: ${n} streams (640x360, detect 5 fps, display 10 fps), viewers joining and leaving, a stream killed every ${3 * sampleS} s\n`,
);
printTable(rows.filter((_, i) => i % Math.max(1, Math.round(60 / sampleS)) === 0 || _ === last));
const summary = {
  'RSS after warm-up MiB': first['RSS MiB'] as number,
  'RSS at end MiB': last['RSS MiB'] as number,
  'tensors after warm-up': first['worker tensors'] as number,
  'tensors at end': last['worker tensors'] as number,
};
console.log('\n', summary);
console.log(
  `\nwritten: ${writeResult('memory', { bench: 'memory', date: new Date().toISOString(), machine: machine(), params: values, runs: rows, summary })}`,
);
