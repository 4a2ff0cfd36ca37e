/**
 * docker-compose.yml (+ the GPU override) and the Dockerfiles, checked without Docker: every
 * service can be built or pulled, ports are well-formed, every mounted host path and every file the
 * Dockerfiles COPY exists, and the services agree with each other (names, ports, paths).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, normalize, posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { argAfter, buildOf, type Compose, parsePort, type Service } from '../helpers/compose.js';

const COMPOSE_FILES = ['docker-compose.yml', 'docker-compose.gpu.yml'];
const load = (f: string) => parse(readFileSync(f, 'utf8')) as Compose;
const base = load('docker-compose.yml');
const gpu = load('docker-compose.gpu.yml');

/** Dockerfile instructions, continuation lines joined, comments dropped. */
function instructions(file: string): Array<{ op: string; args: string }> {
  const lines = readFileSync(file, 'utf8').split('\n');
  const out: Array<{ op: string; args: string }> = [];
  let cur = '';
  for (const raw of lines) {
    const line = raw.trim();
    if (!cur && (line.startsWith('#') || !line)) continue;
    if (line.startsWith('#')) continue;
    cur += `${line.replace(/\\$/, '')} `;
    if (!line.endsWith('\\')) {
      const m = /^(\w+)\s+(.*)$/.exec(cur.trim());
      if (m) out.push({ op: (m[1] as string).toUpperCase(), args: (m[2] as string).trim() });
      cur = '';
    }
  }
  return out;
}

/** Sources of COPY/ADD instructions that come from the build context (not --from=stage). */
function contextCopies(file: string): string[] {
  const srcs: string[] = [];
  for (const { op, args } of instructions(file)) {
    if (op !== 'COPY' && op !== 'ADD') continue;
    let parts: string[];
    if (args.includes('[')) parts = JSON.parse(args.slice(args.indexOf('['))) as string[];
    else parts = args.split(/\s+/);
    const flags = parts.filter((p) => p.startsWith('--'));
    if (flags.some((f) => f.startsWith('--from='))) continue;
    const paths = parts.filter((p) => !p.startsWith('--'));
    srcs.push(...paths.slice(0, -1));
  }
  return srcs;
}

function cmdOf(file: string): string[] {
  const cmd = instructions(file)
    .filter((i) => i.op === 'CMD')
    .at(-1);
  return cmd ? (JSON.parse(cmd.args) as string[]) : [];
}

function dockerignore(context: string): string[] {
  const f = join(context, '.dockerignore');
  return existsSync(f)
    ? readFileSync(f, 'utf8')
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l && !l.startsWith('#'))
    : [];
}

const containerPorts = (s: Service | undefined) =>
  (s?.ports ?? []).map((p) => parsePort(p)?.container).filter((n): n is number => n !== undefined);
const mountOf = (s: Service | undefined, hostPath: string) =>
  (s?.volumes ?? [])
    .map((v) => v.split(':'))
    .find((v) => normalize(v[0] as string) === normalize(hostPath))?.[1];
const env = (s: Service | undefined): Record<string, string> =>
  Array.isArray(s?.environment)
    ? Object.fromEntries(s.environment.map((e) => e.split('=', 2) as [string, string]))
    : (s?.environment ?? {});

describe('docker-compose.yml and Dockerfiles', () => {
  for (const file of COMPOSE_FILES) {
    const c = load(file);

    it(`${file}: every service has an image or a build whose Dockerfile exists`, () => {
      expect(Object.keys(c.services).length).toBeGreaterThan(0);
      for (const [name, s] of Object.entries(c.services)) {
        const b = buildOf(s);
        // an override may only add to a base service
        if (file !== 'docker-compose.yml')
          expect(base.services[name], `${file}: ${name} not in base`).toBeDefined();
        expect(Boolean(s.image || b) || file !== 'docker-compose.yml', `${name}: image or build`).toBe(true);
        if (s.image) expect(s.image, name).toMatch(/^[a-z0-9][a-z0-9._/-]*(:[\w.-]+)?$/);
        if (b) {
          expect(statSync(b.context).isDirectory(), `${name}: build context ${b.context}`).toBe(true);
          expect(existsSync(join(b.context, b.dockerfile)), `${name}: ${b.dockerfile}`).toBe(true);
        }
      }
    });

    it(`${file}: ports are well-formed, published on loopback, not used twice`, () => {
      const hostPorts: number[] = [];
      for (const [name, s] of Object.entries(c.services))
        for (const p of s.ports ?? []) {
          expect(typeof p, `${name}: quote port "${p}" (YAML reads a:b as base-60)`).toBe('string');
          const r = parsePort(p);
          expect(r, `${name}: port "${p}"`).not.toBeNull();
          expect(r?.ip, `${name}: port "${p}" should bind 127.0.0.1`).toBe('127.0.0.1');
          if (r?.host) hostPorts.push(r.host);
        }
      expect(new Set(hostPorts).size).toBe(hostPorts.length);
    });

    it(`${file}: every mounted host path exists; named volumes are declared`, () => {
      for (const [name, s] of Object.entries(c.services))
        for (const v of s.volumes ?? []) {
          const [src, dst, mode] = v.split(':');
          expect(dst, `${name}: volume "${v}"`).toMatch(/^\//);
          if (mode !== undefined) expect(['ro', 'rw', 'z', 'Z', 'ro,z', 'ro,Z']).toContain(mode);
          if (src?.startsWith('.') || src?.startsWith('/'))
            expect(existsSync(src), `${name}: ${src}`).toBe(true);
          else
            expect(Object.keys({ ...base.volumes, ...c.volumes }), `${name}: named volume ${src}`).toContain(
              src,
            );
        }
    });
  }

  const dockerfiles = [
    ...new Set(
      [...Object.values(base.services), ...Object.values(gpu.services)]
        .map(buildOf)
        .filter((b) => b !== null)
        .map((b) => join(b.context, b.dockerfile)),
    ),
  ];

  it('builds Dockerfile and Dockerfile.gpu', () => {
    expect(dockerfiles.sort()).toEqual(['Dockerfile', 'Dockerfile.gpu']);
  });

  for (const df of ['Dockerfile', 'Dockerfile.gpu']) {
    it(`${df}: every file it COPYs from the context exists and is not .dockerignored`, () => {
      const srcs = contextCopies(df);
      expect(srcs.length).toBeGreaterThan(3);
      const ignored = dockerignore('.');
      for (const src of srcs) {
        expect(existsSync(src), `${df}: COPY ${src}`).toBe(true);
        const top = posix.normalize(src).replace(/\/$/, '').split('/')[0] as string;
        expect(ignored, `${df}: COPY ${src} is excluded by .dockerignore`).not.toContain(top);
      }
      // what `npm run build` and the runtime need
      for (const need of [
        'package.json',
        'package-lock.json',
        'tsconfig.json',
        'src/',
        'scripts/',
        'models/',
        'pipelines/',
        'config/',
      ])
        expect(srcs, `${df} must COPY ${need}`).toContain(need);
    });

    it(`${df}: runs Vigil with a config file that exists and listens on every interface`, () => {
      const cmd = cmdOf(df);
      expect(cmd.slice(0, 3)).toEqual(['node', 'dist/cli.js', 'run']);
      const cfg = cmd[cmd.indexOf('--config') + 1] as string;
      expect(cfg).toMatch(/^\/app\/config\/[\w.-]+\.yaml$/);
      const local = cfg.replace(/^\/app\//, '');
      const c = loadConfig(local);
      expect(c.server.host).toBe('0.0.0.0');
      expect(containerPorts(base.services.vigil)).toContain(c.server.port);
    });
  }

  it('Dockerfile.gpu: tfjs-node-gpu matches the tfjs version in package.json, on CUDA 11.2 + cuDNN 8', () => {
    const text = readFileSync('Dockerfile.gpu', 'utf8');
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string> };
    expect(text).toContain(`ARG TFJS_NODE_GPU_VERSION=${pkg.dependencies['@tensorflow/tfjs-core']}`);
    expect(text).toMatch(/ARG CUDA_IMAGE=nvidia\/cuda:11\.2\.\d+-cudnn8-runtime-ubuntu20\.04/);
    expect(text).toMatch(/npm install .*@tensorflow\/tfjs-node-gpu@\$\{TFJS_NODE_GPU_VERSION\}/);
  });

  it('the services agree: Prometheus scrapes vigil, Grafana reads prometheus, Vigil reads mediamtx', () => {
    const s = base.services;
    // Prometheus: config mounted where its flags point; the scrape target is the vigil service.
    const promDir = mountOf(s.prometheus, './prometheus');
    expect(promDir).toBe('/etc/prometheus');
    expect(s.prometheus?.command).toContain(`--config.file=${promDir}/prometheus.yml`);
    const promCfg = parse(readFileSync('prometheus/prometheus.yml', 'utf8')) as {
      scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[] }> }>;
      rule_files: string[];
    };
    for (const f of promCfg.rule_files) expect(existsSync(join('prometheus', f)), f).toBe(true);
    const target = promCfg.scrape_configs[0]?.static_configs[0]?.targets[0] ?? '';
    const [host, port] = target.split(':');
    expect(s[host as string], `scrape target host ${host}`).toBeDefined();
    expect(containerPorts(s[host as string])).toContain(Number(port));

    // Grafana: provisioning and dashboards mounted where the provider looks; data source -> prometheus.
    expect(mountOf(s.grafana, './grafana/provisioning')).toBe('/etc/grafana/provisioning');
    const dashDir = mountOf(s.grafana, './grafana/dashboards') as string;
    const provider = parse(readFileSync('grafana/provisioning/dashboards/vigil.yml', 'utf8')) as {
      providers: Array<{ options: { path: string } }>;
    };
    expect(provider.providers[0]?.options.path).toBe(dashDir);
    const home = env(s.grafana).GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH as string;
    expect(home.startsWith(`${dashDir}/`)).toBe(true);
    expect(existsSync(join('grafana/dashboards', home.slice(dashDir.length + 1)))).toBe(true);
    expect(env(s.grafana)).toMatchObject({
      GF_AUTH_ANONYMOUS_ENABLED: 'true',
      GF_AUTH_ANONYMOUS_ORG_ROLE: 'Viewer',
    });
    const ds = parse(readFileSync('grafana/provisioning/datasources/prometheus.yml', 'utf8')) as {
      datasources: Array<{ url: string; type: string }>;
    };
    const url = new URL(ds.datasources[0]?.url ?? '');
    expect(ds.datasources[0]?.type).toBe('prometheus');
    expect(s[url.hostname], `data source host ${url.hostname}`).toBeDefined();
    expect(url.port).toBe('9090');

    // Vigil's RTSP stream is the URL the publisher pushes to, on the mediamtx service.
    const cfgPath = argAfter(s.vigil?.command, '--config');
    const vigilCfg = loadConfig(cfgPath.replace(/^\/app\//, ''));
    const rtsp = vigilCfg.streams.find((x) => x.url?.startsWith('rtsp://'))?.url as string;
    const pubCmd = (s.publisher?.command ?? []) as string[];
    expect(pubCmd.at(-1)).toBe(rtsp);
    const u = new URL(rtsp);
    expect(s[u.hostname], `RTSP host ${u.hostname}`).toBeDefined();
    expect(containerPorts(s[u.hostname])).toContain(Number(u.port));
    // The publisher reads the demo photos from the image's node_modules.
    const input = argAfter(pubCmd, '-i');
    expect(existsSync(input.replace(/^\/app\//, '').replace('%d', '1'))).toBe(true);
    expect(s.publisher?.image).toBe(s.vigil?.image);
  });
});
