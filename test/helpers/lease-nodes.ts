/**
 * Lease-manager processes for the lease tests (test/helpers/lease-node.ts bundled once with
 * esbuild), and the record of what each printed: who ran which camera when.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { build } from 'esbuild';

export interface LeaseEvent {
  ev: 'ready' | 'acquire' | 'lose' | 'frame' | 'stopped';
  node: string;
  camera?: string;
  t: number;
  reason?: string;
}

let bundled: Promise<string> | undefined;
function bundle(): Promise<string> {
  bundled ??= (async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'vigil-lease-node-')), 'lease-node.mjs');
    await build({
      entryPoints: [join(import.meta.dirname, 'lease-node.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outfile: out,
      banner: {
        js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
      },
      logLevel: 'error',
    });
    return out;
  })();
  return bundled;
}

export class LeaseNodes {
  readonly events: LeaseEvent[] = [];
  readonly children = new Map<string, ChildProcess>();

  async spawn(
    natsUrl: string,
    node: string,
    cameras: string[],
    o: { max?: number; ttlMs?: number; heartbeatMs?: number } = {},
  ) {
    const script = await bundle();
    const args = [
      natsUrl,
      node,
      String(o.max ?? 16),
      String(o.ttlMs ?? 4000),
      String(o.heartbeatMs ?? 1000),
      ...cameras,
    ];
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.children.set(node, child);
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (l) => {
      if (l.startsWith('{')) this.events.push(JSON.parse(l) as LeaseEvent);
    });
    process.once('exit', () => child.kill('SIGKILL'));
    const deadline = Date.now() + 20_000;
    while (!this.events.some((e) => e.node === node && e.ev === 'ready')) {
      if (child.exitCode !== null) throw new Error(`lease node ${node} exited ${child.exitCode}`);
      if (Date.now() > deadline) throw new Error(`lease node ${node} not ready`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  signal(node: string, sig: NodeJS.Signals): void {
    this.children.get(node)?.kill(sig);
  }

  /** Who ran each camera in the last `ms` (by frame lines). */
  runners(ms = 300): Map<string, Set<string>> {
    const since = Date.now() - ms;
    const out = new Map<string, Set<string>>();
    for (const e of this.events)
      if (e.ev === 'frame' && e.t >= since && e.camera) {
        const s = out.get(e.camera) ?? new Set<string>();
        s.add(e.node);
        out.set(e.camera, s);
      }
    return out;
  }

  /** Cameras per node in the last `ms`. */
  perNode(ms = 300): Map<string, number> {
    const out = new Map<string, number>();
    for (const nodes of this.runners(ms).values()) for (const n of nodes) out.set(n, (out.get(n) ?? 0) + 1);
    return out;
  }

  /** First frame of `camera` by a node other than `not`, at or after `t`. */
  firstFrameElsewhere(camera: string, not: string, t: number): LeaseEvent | undefined {
    return this.events.find((e) => e.ev === 'frame' && e.camera === camera && e.node !== not && e.t >= t);
  }

  /**
   * Times two nodes ran one camera at once. Each node's run of a camera goes from its acquire to
   * its last frame before it lost it (a paused process prints nothing while stopped, so a run ends
   * at its last frame, not at the loss it reports on waking); runs of different nodes of the same
   * camera must not overlap.
   */
  overlaps(): string[] {
    const runs: Array<{ node: string; camera: string; from: number; to: number }> = [];
    const open = new Map<string, { from: number; to: number | undefined }>();
    for (const e of this.events) {
      if (!e.camera) continue;
      const k = `${e.node}\u0000${e.camera}`;
      if (e.ev === 'acquire') open.set(k, { from: e.t, to: undefined });
      else if (e.ev === 'frame') {
        const r = open.get(k);
        if (r) r.to = e.t;
      } else if (e.ev === 'lose') {
        const r = open.get(k);
        if (r?.to !== undefined) runs.push({ node: e.node, camera: e.camera, from: r.from, to: r.to });
        open.delete(k);
      }
    }
    for (const [k, r] of open) {
      const [node, camera] = k.split('\u0000') as [string, string];
      if (r.to !== undefined) runs.push({ node, camera, from: r.from, to: r.to });
    }
    const found: string[] = [];
    for (const a of runs)
      for (const b of runs)
        if (a.camera === b.camera && a.node < b.node && a.from <= b.to && b.from <= a.to)
          found.push(`${a.camera}: ${a.node} ran it ${a.from}-${a.to} and ${b.node} ${b.from}-${b.to}`);
    return found;
  }

  async stopAll(): Promise<void> {
    for (const c of this.children.values()) if (c.exitCode === null) c.kill('SIGKILL');
  }
}
