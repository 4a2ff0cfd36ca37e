/**
 * Watching a cluster of Vigil node processes from a test: who runs which camera (sampled from
 * every answering node's /api/streams, recording any camera live on two nodes at once), the
 * nodes' heartbeats in NATS, and what they logged about leases, for a failing test's message.
 */
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import type { VigilNode } from './vigil-node.js';

/** Who runs which camera, sampled from every answering node; records any camera live on two. */
export class LiveSampler {
  readonly overlaps: Array<{ t: number; camera: string; nodes: string[] }> = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly ignoredUntil = new Map<string, number>();

  constructor(private readonly nodes: Map<string, VigilNode>) {}

  start(): void {
    const tick = async () => {
      const now = await this.placementOf(true);
      void now;
      this.timer = setTimeout(() => void tick(), 400);
    };
    void tick();
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  /** A paused node answers nothing; it is left out until `resume`. */
  pause(node: string): void {
    this.ignoredUntil.set(node, Number.POSITIVE_INFINITY);
  }

  /** Counted again `graceMs` after waking (its status page lags its self-fencing by a moment). */
  resume(node: string, graceMs: number): void {
    this.ignoredUntil.set(node, Date.now() + graceMs);
  }

  /** Camera -> node, from each node's latest answer (a node slow to answer keeps its last one). */
  readonly known = new Map<string, string>();

  private remember(node: string, live: string[]): void {
    for (const [cam, n] of this.known) if (n === node && !live.includes(cam)) this.known.delete(cam);
    for (const cam of live) this.known.set(cam, node);
  }

  placement(): Promise<Map<string, string>> {
    return this.placementOf(false);
  }

  private async placementOf(record: boolean): Promise<Map<string, string>> {
    const t = Date.now();
    const entries = [...this.nodes].filter(([n]) => (this.ignoredUntil.get(n) ?? 0) < t);
    const answers = await Promise.all(entries.map(async ([n, v]) => [n, await v.live(3000)] as const));
    const lives = answers.map(([n, cams]) => [n, cams ?? []] as const);
    for (const [n, cams] of answers) if (cams) this.remember(n, cams);
    const by = new Map<string, string[]>();
    for (const [n, cams] of lives) for (const cam of cams) by.set(cam, [...(by.get(cam) ?? []), n]);
    if (record)
      for (const [camera, ns] of by) if (ns.length > 1) this.overlaps.push({ t, camera, nodes: ns });
    return new Map([...by].map(([cam, ns]) => [cam, ns[0] as string]));
  }
}

/** The nodes' heartbeats in the cluster's KV bucket: capacity, held, drop rate. */
export async function nodeHeartbeats(url: string): Promise<string[]> {
  const nc = await connect({ servers: url, timeout: 2000 }).catch(() => undefined);
  if (!nc) return ['(NATS unreachable)'];
  try {
    const kv = await new Kvm(nc).open('vigil_nodes');
    const out: string[] = [];
    for await (const k of await kv.keys()) out.push(`${k}: ${(await kv.get(k))?.string()}`);
    return out;
  } finally {
    await nc.close();
  }
}

/** When (ms epoch) a node logged taking the lease of `camera` after `since`. */
export function leaseTakenAt(nodes: VigilNode[], camera: string, since: number): number {
  for (const n of nodes)
    for (const l of n.lines) {
      if (!l.includes('lease taken') || !l.includes(`"camera":"${camera}"`)) continue;
      const t = (JSON.parse(l) as { time: number }).time;
      if (t >= since) return t;
    }
  return Number.NaN;
}

/** What the nodes said about leases and their cameras (for a failing test). */
export function diagnose(nodes: VigilNode[]): string {
  return nodes
    .map((n) => {
      const said = n.lines.filter((l) => /lease|camera|cluster|capacity|stream/i.test(l)).slice(-15);
      return `--- ${n.name} (${n.lines.length} lines)\n${said.join('\n')}`;
    })
    .join('\n');
}
