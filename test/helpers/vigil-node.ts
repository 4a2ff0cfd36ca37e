/**
 * A Vigil service as a process of its own (`node dist/cli.js run`), as a cluster node runs: the
 * tests can kill it (SIGKILL, a crash), pause it (SIGSTOP/SIGCONT) or stop it (SIGTERM, a graceful
 * leave), and talk to its HTTP API. What it logs (pino JSON lines) is kept for a failing test.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { stringify } from 'yaml';

const CLI = join(process.cwd(), 'dist', 'cli.js');

export class VigilNode {
  readonly lines: string[] = [];
  private exited: Promise<number | null>;

  private constructor(
    readonly name: string,
    readonly url: string,
    private readonly child: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    for (const stream of [child.stdout, child.stderr])
      if (stream) createInterface({ input: stream }).on('line', (l) => this.keep(l));
  }

  private keep(line: string): void {
    this.lines.push(line);
    if (this.lines.length > 2000) this.lines.splice(0, 500);
  }

  /** Writes `config` to `dir/<name>.yaml`, starts the node on `port` and waits for /api/health. */
  static async start(
    name: string,
    dir: string,
    port: number,
    config: object,
    ms = 90_000,
  ): Promise<VigilNode> {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, stringify(config));
    const child = spawn(process.execPath, [CLI, 'run', '-c', file, '-p', String(port)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, VIGIL_LOG_PRETTY: '0' },
    });
    process.once('exit', () => child.kill('SIGKILL'));
    const node = new VigilNode(name, `http://127.0.0.1:${port}`, child);
    const deadline = Date.now() + ms;
    for (;;) {
      if (child.exitCode !== null)
        throw new Error(`node ${name} exited ${child.exitCode}: ${node.lines.slice(-20).join('\n')}`);
      if (Date.now() > deadline)
        throw new Error(`node ${name} not healthy in ${ms} ms: ${node.lines.slice(-20).join('\n')}`);
      const ok = await fetch(`${node.url}/api/health`, { signal: AbortSignal.timeout(1000) })
        .then((r) => r.ok)
        .catch(() => false);
      if (ok) return node;
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  signal(sig: NodeJS.Signals): void {
    this.child.kill(sig);
  }

  /** SIGKILL, like a crash; resolves once the process is gone. */
  async kill(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM (a graceful leave), SIGKILL after `ms`. */
  async stop(ms = 20_000): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGCONT');
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), ms);
    await this.exited;
    clearTimeout(t);
  }

  /** GET a JSON route; undefined when the node does not answer within `ms` (paused, dead). */
  async get<T>(path: string, ms = 1500): Promise<T | undefined> {
    try {
      const r = await fetch(`${this.url}${path}`, { signal: AbortSignal.timeout(ms) });
      return r.ok ? ((await r.json()) as T) : undefined;
    } catch {
      return undefined;
    }
  }

  /** The cameras this node runs now (`live` in /api/streams); undefined when it does not answer. */
  async live(ms = 1500): Promise<string[] | undefined> {
    const streams = await this.get<Array<{ id: string; state: string }>>('/api/streams', ms);
    return streams?.filter((s) => s.state === 'live').map((s) => s.id);
  }
}
