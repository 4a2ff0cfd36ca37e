/**
 * Debian's Prometheus for tests: a scrape config derived from the repository's
 * prometheus/prometheus.yml, a server on 127.0.0.1 with its TSDB in a temporary folder, and
 * small HTTP API helpers.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { freePort } from './rtsp-server.js';
import { componentMissing } from './system-deps.mjs';

export const REPO_PROMETHEUS_CONFIG = 'prometheus/prometheus.yml';

/** Null if `bin` runs, else why not (the shared probe of .ci/run). */
export function binaryMissing(bin: 'prometheus' | 'promtool'): string | null {
  return componentMissing(bin);
}

interface ScrapeConfig {
  job_name: string;
  scrape_interval?: string;
  scrape_timeout?: string;
  static_configs?: Array<{ targets: string[] }>;
  [k: string]: unknown;
}
export interface PrometheusConfig {
  global?: Record<string, unknown>;
  rule_files?: string[];
  scrape_configs: ScrapeConfig[];
  [k: string]: unknown;
}

export function readRepoConfig(file = REPO_PROMETHEUS_CONFIG): PrometheusConfig {
  return parse(readFileSync(file, 'utf8')) as PrometheusConfig;
}

/**
 * The repository's config with only the target of `job` replaced by `target` and the intervals set
 * to `interval`; rule files resolved against the repository's prometheus/ folder.
 */
export function testScrapeConfig(
  o: { target: string; interval: string; job?: string },
  file = REPO_PROMETHEUS_CONFIG,
): PrometheusConfig {
  const c = readRepoConfig(file);
  const job = o.job ?? 'vigil';
  const sc = c.scrape_configs.find((s) => s.job_name === job);
  if (!sc) throw new Error(`${file}: no scrape config for job "${job}"`);
  sc.static_configs = [{ targets: [o.target] }];
  sc.scrape_interval = o.interval;
  sc.scrape_timeout = o.interval;
  c.global = { ...c.global, scrape_interval: o.interval, evaluation_interval: o.interval };
  c.rule_files = (c.rule_files ?? []).map((f) => (isAbsolute(f) ? f : resolve(dirname(file), f)));
  return c;
}

export const CLUSTER_PROMETHEUS_CONFIG = 'prometheus/prometheus.cluster.yml';

/**
 * prometheus/prometheus.cluster.yml with the file_sd files of `job` replaced by `files` and the
 * intervals set to `interval` (the file re-read as often); rule files resolved as above.
 */
export function clusterScrapeConfig(
  o: { files: string[]; interval: string; job?: string },
  file = CLUSTER_PROMETHEUS_CONFIG,
): PrometheusConfig {
  const c = readRepoConfig(file);
  const sc = c.scrape_configs.find((s) => s.job_name === (o.job ?? 'vigil'));
  if (!sc) throw new Error(`${file}: no scrape config for job "${o.job ?? 'vigil'}"`);
  sc.file_sd_configs = [{ files: o.files, refresh_interval: o.interval }];
  sc.scrape_interval = o.interval;
  sc.scrape_timeout = o.interval;
  c.global = { ...c.global, scrape_interval: o.interval, evaluation_interval: o.interval };
  c.rule_files = (c.rule_files ?? []).map((f) => (isAbsolute(f) ? f : resolve(dirname(file), f)));
  return c;
}

export interface PromQueryResult {
  status: 'success' | 'error';
  errorType?: string;
  error?: string;
  data?: {
    resultType: 'vector' | 'matrix' | 'scalar' | 'string';
    result: unknown;
  };
}

export class TestPrometheus {
  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
    private readonly dir: string,
    private readonly log: () => string,
  ) {}

  static async start(
    config: PrometheusConfig,
    opts: { readyTimeoutMs?: number } = {},
  ): Promise<TestPrometheus> {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-prometheus-'));
    const configFile = join(dir, 'prometheus.yml');
    writeFileSync(configFile, stringify(config));
    const port = await freePort();
    const child = spawn(
      'prometheus',
      [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const kill = () => child.kill('SIGKILL');
    process.once('exit', kill);
    child.once('exit', () => process.off('exit', kill));
    let out = '';
    const keep = (d: Buffer) => {
      out = (out + d.toString()).slice(-8000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const p = new TestPrometheus(child, `http://127.0.0.1:${port}`, dir, () => out);
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 20_000);
    for (;;) {
      if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}:\n${out}`);
      try {
        const r = await fetch(`${p.url}/-/ready`);
        if (r.ok) return p;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await p.stop();
        throw new Error(`prometheus not ready within ${opts.readyTimeoutMs ?? 20_000} ms:\n${out}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  get output(): string {
    return this.log();
  }

  async api<T = unknown>(path: string): Promise<{ status: string; data: T; error?: string }> {
    const r = await fetch(`${this.url}${path}`);
    return (await r.json()) as { status: string; data: T; error?: string };
  }

  /** Instant query at the current time through /api/v1/query. */
  async query(expr: string): Promise<PromQueryResult> {
    const r = await fetch(`${this.url}/api/v1/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ query: expr }),
    });
    return (await r.json()) as PromQueryResult;
  }

  /** SIGTERM, SIGKILL after 5 s; removes the TSDB folder. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = once(this.child, 'exit');
      this.child.kill('SIGTERM');
      const t = setTimeout(() => this.child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Whether a query result holds at least one sample that is a number (NaN is "no data" in Grafana). */
export function hasData(r: PromQueryResult): boolean {
  const d = r.data;
  if (!d) return false;
  const isNum = (v: unknown) => !Number.isNaN(Number(v));
  if (d.resultType === 'scalar') return isNum((d.result as [number, string])[1]);
  if (d.resultType === 'vector')
    return (d.result as Array<{ value: [number, string] }>).some((s) => isNum(s.value[1]));
  if (d.resultType === 'matrix')
    return (d.result as Array<{ values: Array<[number, string]> }>).some((s) =>
      s.values.some((v) => isNum(v[1])),
    );
  return false;
}
