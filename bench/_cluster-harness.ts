// A cluster for `npm run bench -- cluster`: a real nats-server (JetStream, its own store per
// cluster), a database on the bench's PostgreSQL, and Vigil nodes as their own processes
// (`node dist/cli.js run`, test/helpers/vigil-node.ts), with lavfi cameras. What the bench reads:
// where each camera is live (every node's GET /api/streams) and the node heartbeats (vigil_nodes).
import { mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { NODE_BUCKET } from '../src/cluster/leases.js';
import { type NatsServer, startNats } from '../test/helpers/nats.js';
import type { PostgresServer } from '../test/helpers/postgres.js';
import { freePort } from '../test/helpers/rtsp-server.js';
import { VigilNode } from '../test/helpers/vigil-node.js';

/** The lease settings of every bench cluster: the defaults of cluster.leaseTtlMs / heartbeatMs. */
export const LEASE_TTL_MS = 4000;
export const HEARTBEAT_MS = 1000;

export interface CameraSpec {
  count: number;
  width: number;
  height: number;
  fps: number;
  detectFps: number;
}

export interface ClusterSpec {
  name: string;
  pipeline: string;
  cameras: CameraSpec;
}

/** One node's heartbeat in vigil_nodes (NodeValue, src/defs/cluster.ts). */
export interface Heartbeat {
  node: string;
  capacity: number;
  held: number;
  dropRate: number;
}

/** camera -> the nodes it is live on now (more than one would be a double run). */
export type Placement = Map<string, string[]>;

/** Each camera's lavfi graph lasts MARK + its index seconds (years): its ffmpeg's own tag in /proc. */
const MARK = 10_000_000;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

export class BenchCluster {
  readonly nodes = new Map<string, VigilNode>();
  readonly cameraIds: string[];
  private readonly maxCameras = new Map<string, number>();
  private nc: NatsConnection | undefined;

  private constructor(
    readonly spec: ClusterSpec,
    private readonly nats: NatsServer,
    private readonly db: string,
    private readonly dir: string,
  ) {
    this.cameraIds = Array.from({ length: spec.cameras.count }, (_, i) => `cam${i + 1}`);
  }

  static async start(spec: ClusterSpec, pg: PostgresServer): Promise<BenchCluster> {
    const nats = await startNats();
    const db = await pg.createDatabase(`bench_${spec.name}`);
    const dir = mkdtempSync(join(tmpdir(), `vigil-bench-cluster-${spec.name}-`));
    const c = new BenchCluster(spec, nats, db, dir);
    c.nc = await connect({ servers: nats.url, timeout: 2000 });
    return c;
  }

  /** Starts nodes (name -> maxCameras) at once; resolves when every one answers /api/health. */
  async addNodes(maxCameras: Record<string, number>): Promise<void> {
    const started = await Promise.all(
      Object.entries(maxCameras).map(async ([name, max]) => {
        this.maxCameras.set(name, max);
        return VigilNode.start(name, this.dir, await freePort(), this.nodeConfig(name, max), 120_000);
      }),
    );
    for (const n of started) this.nodes.set(n.name, n);
  }

  /** Starts a node again under the name of one that was stopped or killed (a new port). */
  async restartNode(name: string): Promise<void> {
    this.nodes.delete(name);
    await this.addNodes({ [name]: this.maxCameras.get(name) ?? 16 });
  }

  maxCamerasOf(name: string): number {
    return this.maxCameras.get(name) ?? 16;
  }

  private nodeConfig(node: string, maxCameras: number) {
    const { cameras } = this.spec;
    const dataDir = join(this.dir, node);
    mkdirSync(dataDir, { recursive: true });
    return {
      server: { host: '127.0.0.1', port: 0 },
      log: { level: 'info' },
      pipeline: this.spec.pipeline,
      dataDir,
      inference: { workers: 1 },
      cluster: {
        nats: this.nats.url,
        postgres: this.db,
        node,
        maxCameras,
        leaseTtlMs: LEASE_TTL_MS,
        heartbeatMs: HEARTBEAT_MS,
        retry: { initialMs: 100, maxMs: 1000 },
      },
      streams: this.cameraIds.map((id, i) => ({
        id,
        lavfi: `testsrc2=size=${cameras.width}x${cameras.height}:rate=${cameras.fps}:duration=${MARK + i}`,
        width: cameras.width,
        height: cameras.height,
        detectFps: cameras.detectFps,
        displayFps: cameras.fps,
      })),
    };
  }

  /**
   * Where each camera is live, from every running node's GET /api/streams. A cluster-wide list
   * (the one-UI part of #15) names each camera's node: only a node's own live cameras count.
   */
  async placement(): Promise<Placement> {
    const running = [...this.nodes.values()].filter((n) => n.running);
    const lists = await Promise.all(
      running.map(async (n) => {
        const all = await n.get<Array<{ id: string; state: string; node?: string }>>('/api/streams', 2000);
        const mine = (all ?? []).filter((s) => s.state === 'live' && (s.node ?? n.name) === n.name);
        return [n.name, mine.map((s) => s.id)] as const;
      }),
    );
    const out: Placement = new Map();
    for (const [node, cams] of lists) for (const cam of cams) out.set(cam, [...(out.get(cam) ?? []), node]);
    return out;
  }

  /**
   * camera -> the nodes with an ffmpeg of it running now, from /proc (children of each node's
   * process, told apart by their lavfi duration): what runs, whatever the API says. An ffmpeg
   * left running by a killed node is listed as an orphan.
   */
  decoders(): Placement {
    const byPid = new Map([...this.nodes.values()].filter((n) => n.running).map((n) => [n.pid, n.name]));
    const out: Placement = new Map();
    for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      try {
        const ppid = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[1]);
        const tag = /duration=(\d+)/.exec(readFileSync(`/proc/${pid}/cmdline`, 'utf8'))?.[1];
        if (!tag || Number(tag) < MARK) continue;
        // a bench camera's ffmpeg whose node is gone (kill -9) and which is still running
        const node = byPid.get(ppid) ?? `orphan (parent ${ppid})`;
        const camera = this.cameraIds[Number(tag) - MARK];
        if (camera) out.set(camera, [...(out.get(camera) ?? []), node]);
      } catch {
        // gone meanwhile
      }
    }
    return out;
  }

  /** Cameras live per node now. */
  static perNode(p: Placement): Map<string, number> {
    const out = new Map<string, number>();
    for (const nodes of p.values()) for (const n of nodes) out.set(n, (out.get(n) ?? 0) + 1);
    return out;
  }

  /**
   * Waits until `ok(placement)` has held for `stableMs` (the leases settled); resolves the
   * placement and when it first held, or throws with the last one seen after `ms`.
   */
  async settle(
    ok: (p: Placement) => boolean,
    what: string,
    ms: number,
    stableMs = 3000,
  ): Promise<{ placement: Placement; at: number }> {
    const deadline = Date.now() + ms;
    let since: number | undefined;
    let key = '';
    let last: Placement = new Map();
    while (Date.now() < deadline) {
      last = await this.placement();
      const k = JSON.stringify([...last].sort());
      const good = ok(last);
      if (!good || k !== key) since = good ? Date.now() : undefined;
      key = k;
      if (since !== undefined && Date.now() - since >= stableMs) return { placement: last, at: since };
      await sleep(200);
    }
    const shares = [...BenchCluster.perNode(last)].map(([n, c]) => `${n}:${c}`).join(' ');
    throw new Error(`timed out after ${ms} ms waiting for ${what}; last placement ${shares || 'none'}`);
  }

  /** The node heartbeats in the vigil_nodes bucket now. */
  async heartbeats(): Promise<Map<string, Heartbeat>> {
    const out = new Map<string, Heartbeat>();
    if (!this.nc) return out;
    const kv = await new Kvm(this.nc).open(NODE_BUCKET);
    for await (const k of await kv.keys()) {
      const e = await kv.get(k);
      if (e?.operation === 'PUT') out.set(k, e.json() as Heartbeat);
    }
    return out;
  }

  /** What a node logged about leases (for a run that timed out). */
  explain(): string {
    return [...this.nodes.values()]
      .map(
        (n) =>
          `--- ${n.name}\n${n.lines
            .filter((l) => /lease|capacity|cluster/i.test(l))
            .slice(-8)
            .join('\n')}`,
      )
      .join('\n');
  }

  async stop(): Promise<void> {
    await Promise.allSettled([...this.nodes.values()].map((n) => n.stop()));
    await this.nc?.close().catch(() => undefined);
    await this.nats.stop();
  }
}
