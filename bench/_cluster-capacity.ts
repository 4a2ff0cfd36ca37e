// Cameras per node follows capacity (npm run bench -- cluster, sections "capacity" and "shedding").
//  - capacity: 3 nodes with different cluster.maxCameras share 10 passthrough cameras; the shares
//    they settle on vs. what src/cluster/capacity.ts `allocate` computes from their capacities.
//  - shedding: one node with a detect pipeline and more cameras than it keeps up with; its
//    heartbeat (capacity, held, drop rate) each second: capacity is what it runs while it drops.
import { allocate } from '../src/cluster/capacity.js';
import type { PostgresServer } from '../test/helpers/postgres.js';
import { BenchCluster, type Heartbeat, sleep } from './_cluster-harness.js';
import { progress } from './_util.js';

export type Row = Record<string, string | number>;

export async function measureShares(
  pg: PostgresServer,
  maxCameras: Record<string, number>,
  cameras: number,
): Promise<{ rows: Row[]; liveAfterMs: number }> {
  const cluster = await BenchCluster.start(
    {
      name: 'capacity',
      pipeline: 'passthrough',
      cameras: { count: cameras, width: 320, height: 180, fps: 5, detectFps: 5 },
    },
    pg,
  );
  try {
    progress(
      `capacity: ${Object.keys(maxCameras).length} nodes (maxCameras ${Object.values(maxCameras).join('/')}), ${cameras} cameras`,
    );
    const t0 = Date.now();
    await cluster.addNodes(maxCameras);
    const want = allocate(cameras, new Map(Object.entries(maxCameras)));
    const placed = Math.min(
      cameras,
      [...want.values()].reduce((a, b) => a + b, 0),
    );
    const { placement, at } = await cluster
      .settle((p) => p.size === placed, `${placed} cameras live`, 90_000, 4000)
      .catch((e) => {
        throw new Error(`${(e as Error).message}\n${cluster.explain()}`);
      });
    const live = BenchCluster.perNode(placement);
    const beats = await cluster.heartbeats();
    progress(`capacity: settled ${[...live].map(([n, c]) => `${n}:${c}`).join(' ')} after ${at - t0} ms`);
    const rows = Object.keys(maxCameras)
      .sort()
      .map((node) => ({
        node,
        maxCameras: maxCameras[node] as number,
        'heartbeat capacity': beats.get(node)?.capacity ?? 'none',
        'allocate share': want.get(node) ?? 0,
        'live (measured)': live.get(node) ?? 0,
        'heartbeat held': beats.get(node)?.held ?? 'none',
        'drop rate %': (beats.get(node)?.dropRate ?? 0) * 100,
      }));
    return { rows, liveAfterMs: at - t0 };
  } finally {
    await cluster.stop();
  }
}

/** A heartbeat sample: seconds after the node answered, and what it said. */
interface Sample extends Heartbeat {
  t: number;
  live: number;
}

export async function measureShedding(
  pg: PostgresServer,
  o: { cameras: number; seconds: number; detectFps: number; maxCameras: number },
): Promise<{ rows: Row[]; samples: Sample[] }> {
  const cluster = await BenchCluster.start(
    {
      name: 'shedding',
      pipeline: 'detect',
      cameras: { count: o.cameras, width: 640, height: 360, fps: 15, detectFps: o.detectFps },
    },
    pg,
  );
  const samples: Sample[] = [];
  try {
    progress(
      `shedding: 1 node, detect pipeline, ${o.cameras} cameras 640x360 detected at ${o.detectFps} fps, ${o.seconds} s`,
    );
    await cluster.addNodes({ solo: o.maxCameras });
    const t0 = Date.now();
    while (Date.now() - t0 < o.seconds * 1000) {
      const [beat, placement] = await Promise.all([cluster.heartbeats(), cluster.placement()]);
      const b = beat.get('solo');
      if (b) {
        samples.push({ ...b, t: (Date.now() - t0) / 1000, live: placement.size });
        if (samples.length % 10 === 0)
          progress(
            `shedding: ${samples.at(-1)?.t.toFixed(0)} s: held ${b.held}, capacity ${b.capacity}, drops ${(b.dropRate * 100).toFixed(0)}%`,
          );
      }
      await sleep(1000);
    }
    return { rows: phases(samples), samples };
  } finally {
    await cluster.stop();
  }
}

/** Consecutive samples with the same held and capacity, as one row each. */
function phases(samples: Sample[]): Row[] {
  const rows: Row[] = [];
  let cur:
    | { from: number; to: number; held: number; capacity: number; drops: number[]; live: number[] }
    | undefined;
  const flush = () => {
    if (!cur) return;
    const d = [...cur.drops].sort((a, b) => a - b);
    rows.push({
      'from s': Math.round(cur.from),
      'to s': Math.round(cur.to),
      held: cur.held,
      'live (measured)': `${Math.min(...cur.live)}-${Math.max(...cur.live)}`,
      capacity: cur.capacity,
      'drop rate %': `${((d[0] ?? 0) * 100).toFixed(0)}-${((d.at(-1) ?? 0) * 100).toFixed(0)}`,
    });
  };
  for (const s of samples) {
    if (cur && cur.held === s.held && cur.capacity === s.capacity) {
      cur.to = s.t;
      cur.drops.push(s.dropRate);
      cur.live.push(s.live);
      continue;
    }
    flush();
    cur = { from: s.t, to: s.t, held: s.held, capacity: s.capacity, drops: [s.dropRate], live: [s.live] };
  }
  flush();
  return rows;
}
