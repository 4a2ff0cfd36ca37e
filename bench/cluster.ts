// Cluster mode (#15) with real components on this machine: nats-server (JetStream), PostgreSQL 15
// and Vigil nodes as their own processes (`node dist/cli.js run`: run `npm run build` first), all
// sharing this machine's cores. Leases at the defaults (leaseTtlMs 4000, heartbeatMs 1000).
// npm run bench -- cluster [--runs 3] [--only capacity,shedding,viewer,failover]
//                          [--shedSeconds 40] [--shedDetectFps 15] [--viewerSeconds 10]
//   capacity  3 nodes with maxCameras 2/4/16 share 10 cameras: shares vs. capacity.ts `allocate`
//   shedding  1 node, detect pipeline, 10 cameras it cannot keep up with: capacity from drop rate
//   viewer    a viewer on the holder vs. one on another node (frames over NATS), latency
//   failover  kill -9 and SIGTERM of a holder, --runs times each: time until its cameras are live
//             on another node
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { natsMissing } from '../test/helpers/nats.js';
import { postgresMissing, startPostgres } from '../test/helpers/postgres.js';
import { measureShares, measureShedding } from './_cluster-capacity.js';
import { type DoubleRun, type FailoverRun, measureFailover } from './_cluster-failover.js';
import { HEARTBEAT_MS, LEASE_TTL_MS } from './_cluster-harness.js';
import { machine, percentile, printTable, progress, writeResult } from './_util.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    only: { type: 'string', default: 'capacity,shedding,viewer,failover' },
    shedSeconds: { type: 'string', default: '40' },
    shedDetectFps: { type: 'string', default: '15' },
    viewerSeconds: { type: 'string', default: '10' },
  },
});
const only = new Set((values.only as string).split(','));
const missing = natsMissing() ?? postgresMissing();
if (missing) {
  console.error(`cluster bench needs nats-server and PostgreSQL: ${missing}`);
  process.exit(1);
}
if (!existsSync(join(process.cwd(), 'dist', 'cli.js'))) {
  console.error('cluster bench runs the built nodes: npm run build first');
  process.exit(1);
}

// every node, nats-server and PostgreSQL helper adds a kill-on-exit listener
process.setMaxListeners(50);
const started = Date.now();
const pg = await startPostgres();
const result: Record<string, unknown> = {
  date: new Date().toISOString(),
  machine: machine(),
  input: `lavfi testsrc2 cameras; leaseTtlMs ${LEASE_TTL_MS}, heartbeatMs ${HEARTBEAT_MS} (the defaults); nats-server, PostgreSQL and every node on this machine's cores`,
  params: values,
};
try {
  if (only.has('capacity')) {
    const maxCameras = { 'node-a': 2, 'node-b': 4, 'node-c': 16 };
    const { rows, liveAfterMs } = await measureShares(pg, maxCameras, 10);
    console.log(`\nCapacity: 10 passthrough cameras on 3 nodes, all live after ${liveAfterMs} ms`);
    printTable(rows);
    result.capacity = rows;
    result.capacityLiveAfterMs = liveAfterMs;
  }
  if (only.has('shedding')) {
    const o = {
      cameras: 10,
      seconds: Number(values.shedSeconds),
      detectFps: Number(values.shedDetectFps),
      maxCameras: 16,
    };
    const { rows, samples } = await measureShedding(pg, o);
    console.log(
      `\nShedding: 1 node, detect, ${o.cameras} cameras 640x360 detected at ${o.detectFps} fps (maxCameras ${o.maxCameras})`,
    );
    printTable(rows);
    result.shedding = rows;
    result.sheddingSamples = samples;
  }
  if (only.has('viewer') || only.has('failover')) {
    const runs = Number(values.runs);
    const r = await measureFailover(pg, {
      runs,
      viewerSeconds: Number(values.viewerSeconds),
      viewer: only.has('viewer'),
      failover: only.has('failover'),
    });
    if (only.has('viewer')) {
      console.log(`\nCross-node viewer latency: ${r.viewerNote}`);
      if (r.viewer.length) printTable(r.viewer);
      result.viewer = r.viewer;
      result.viewerNote = r.viewerNote;
    }
    if (only.has('failover')) {
      const rows = summarise(r.runs);
      console.log(
        `\nFailover: 3 nodes, 6 cameras, ${runs} run(s) each; camera moved = live on another node (GET /api/streams, polled every 100 ms)`,
      );
      printTable(rows);
      const doubles = doubleSpans(r.doubles);
      console.log(
        `\nA camera on two nodes at once (their GET /api/streams, or an ffmpeg of it under both, sampled every 50 ms): ${doubles.length || 'never'}`,
      );
      if (doubles.length) printTable(doubles);
      result.doubles = doubles;
      result.failover = rows;
      result.failoverRuns = r.runs;
    }
  }
} finally {
  await pg.stop();
}
result.totalSeconds = Math.round((Date.now() - started) / 1000);
progress(`done in ${result.totalSeconds} s; wrote ${writeResult('cluster', result)}`);

/** min / median / max per kind of stop, over every moved camera and over whole runs. */
function summarise(runs: FailoverRun[]): Array<Record<string, string | number>> {
  const stat = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return { min: s[0] ?? Number.NaN, median: percentile(s, 50), max: s.at(-1) ?? Number.NaN };
  };
  const rows: Array<Record<string, string | number>> = [];
  for (const how of ['kill -9', 'SIGTERM'] as const) {
    const mine = runs.filter((r) => r.how === how);
    if (!mine.length) continue;
    const row = (what: string, xs: number[]) => {
      const s = stat(xs);
      rows.push({
        stop: how,
        figure: what,
        n: xs.length,
        'min ms': s.min,
        'median ms': s.median,
        'max ms': s.max,
      });
    };
    row(
      'each camera live elsewhere',
      mine.flatMap((r) => Object.values(r.perCamera)),
    );
    row(
      'all its cameras live elsewhere',
      mine.map((r) => r.allMs),
    );
    row(
      'process gone',
      mine.map((r) => r.exitMs),
    );
    row(
      'restarted node back to 2/2/2',
      mine.map((r) => r.rejoinMs),
    );
  }
  return rows;
}

/** Double-run samples joined into spans per camera (samples < 1 s apart), with their phase. */
function doubleSpans(samples: DoubleRun[]): Array<Record<string, string | number>> {
  const spans: Array<DoubleRun & { from: number; n: number }> = [];
  for (const d of samples) {
    const open = spans.findLast((s) => s.camera === d.camera && s.by === d.by && d.at - s.at < 1000);
    if (open) Object.assign(open, { at: d.at, n: open.n + 1 });
    else spans.push({ ...d, from: d.at, n: 1 });
  }
  return spans.map((s) => ({
    phase: s.phase,
    'seen by': s.by,
    camera: s.camera,
    nodes: s.nodes.join(' + '),
    samples: s.n,
    'seen for ms': s.at - s.from,
  }));
}
