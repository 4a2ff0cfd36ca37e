/**
 * docker-compose.cluster.yml checked without Docker, like docker-compose.yml: every service can be
 * built or pulled, ports are well-formed and distinct, mounted host paths exist, and the services
 * agree: each Vigil node's environment is what Vigil reads (names and values, through its own
 * resolvers) and points at the nats / postgres services, the config file every node mounts passes
 * Vigil's loader with that environment, the nodes' file_sd file is the one Prometheus reads from a
 * shared volume, and prometheus.cluster.yml passes promtool.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { referenceProblems } from '../../src/config/references.js';
import {
  argAfter,
  buildOf,
  dependsOn,
  envOf,
  loadCompose,
  mountOf,
  parsePort,
  type Service,
} from '../helpers/compose.js';
import { binaryMissing } from '../helpers/prometheus.js';
import { skipUnless } from '../helpers/requirements.js';
import { forcedExitMs, resolveVigilEnv, unreadVariables } from '../helpers/vigil-env.js';

const FILE = 'docker-compose.cluster.yml';
const c = loadCompose(FILE);
const s = c.services;
/** The Vigil nodes: the services that run `vigil run`. */
const nodes = Object.entries(s).filter(([, v]) => argAfter(v.command, 'dist/cli.js') === 'run');
const containerPorts = (v: Service | undefined) =>
  (v?.ports ?? []).map((p) => parsePort(p)?.container).filter((n): n is number => n !== undefined);
/** A host path inside the repository for a path in the Vigil image (/app/x -> x). */
const inRepo = (imagePath: string, v: Service) => {
  const mounted = (v.volumes ?? []).map((m) => m.split(':')).find((m) => m[1] === imagePath);
  return mounted ? (mounted[0] as string) : imagePath.replace(/^\/app\//, '');
};

function nodeConfig(v: Service) {
  const file = inRepo(argAfter(v.command, '--config'), v);
  const config = loadConfig(file);
  return { file, config, ...resolveVigilEnv(config, envOf(v)) };
}

describe(`${FILE}: the services`, () => {
  it('has nats, postgres, 3 Vigil nodes, prometheus and grafana', () => {
    expect(nodes.map(([n]) => n)).toEqual(['vigil-1', 'vigil-2', 'vigil-3']);
    for (const name of ['nats', 'postgres', 'prometheus', 'grafana']) expect(s[name], name).toBeDefined();
    expect(s.nats?.image).toMatch(/^nats:2\./);
    expect(s.postgres?.image).toMatch(/^postgres:15[.-]/);
  });

  it('every service has an image or a build whose Dockerfile exists', () => {
    for (const [name, v] of Object.entries(s)) {
      const b = buildOf(v);
      expect(Boolean(v.image || b), `${name}: image or build`).toBe(true);
      if (v.image) expect(v.image, name).toMatch(/^[a-z0-9][a-z0-9._/-]*(:[\w.-]+)?$/);
      if (b) {
        expect(statSync(b.context).isDirectory(), `${name}: build context ${b.context}`).toBe(true);
        expect(existsSync(join(b.context, b.dockerfile)), `${name}: ${b.dockerfile}`).toBe(true);
      }
    }
    // the nodes are built from the Dockerfile the single-node stack uses
    for (const [name, v] of nodes)
      expect(buildOf(v), name).toEqual({ context: '.', dockerfile: 'Dockerfile' });
  });

  it('ports are well-formed, published on loopback, not used twice; each node has its own', () => {
    const hostPorts: number[] = [];
    for (const [name, v] of Object.entries(s))
      for (const p of v.ports ?? []) {
        expect(typeof p, `${name}: quote port "${p}" (YAML reads a:b as base-60)`).toBe('string');
        const r = parsePort(p);
        expect(r, `${name}: port "${p}"`).not.toBeNull();
        expect(r?.ip, `${name}: port "${p}" should bind 127.0.0.1`).toBe('127.0.0.1');
        if (r?.host) hostPorts.push(r.host);
      }
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
    for (const [name, v] of nodes) {
      expect(v.ports?.length, `${name} publishes its page`).toBe(1);
      expect(containerPorts(v), name).toEqual([nodeConfig(v).config.server.port]);
    }
  });

  it('every mounted host path exists; named volumes are declared', () => {
    for (const [name, v] of Object.entries(s))
      for (const m of v.volumes ?? []) {
        const [src, dst, mode] = m.split(':');
        expect(dst, `${name}: volume "${m}"`).toMatch(/^\//);
        if (mode !== undefined) expect(['ro', 'rw'], `${name}: ${m}`).toContain(mode);
        if (src?.startsWith('.') || src?.startsWith('/'))
          expect(existsSync(src), `${name}: ${src}`).toBe(true);
        else expect(Object.keys(c.volumes ?? {}), `${name}: named volume ${src}`).toContain(src);
      }
  });

  it('nats runs JetStream on a volume; postgres keeps its data on one; both have a healthcheck', () => {
    const cmd = s.nats?.command as string[];
    expect(cmd).toContain('-js');
    const store = argAfter(cmd, '-sd');
    const natsVolume = (s.nats?.volumes ?? [])
      .map((m) => m.split(':'))
      .find((m) => store.startsWith(m[1] as string));
    expect(natsVolume?.[0], `JetStream store ${store} on a named volume`).toBeDefined();
    expect(Object.keys(c.volumes ?? {})).toContain(natsVolume?.[0]);
    // the healthcheck asks the monitoring port the command opens
    const monitor = argAfter(cmd, '-m');
    expect(String(s.nats?.healthcheck?.test)).toContain(`127.0.0.1:${monitor}/healthz`);
    expect(mountOf(s.postgres, 'postgres-data')).toBe('/var/lib/postgresql/data');
    expect(s.postgres?.healthcheck?.test).toContain('pg_isready');
  });
});

describe(`${FILE}: the Vigil nodes`, () => {
  it('each has a unique VIGIL_NODE, which is also its hostname', () => {
    const names = nodes.map(([, v]) => envOf(v).VIGIL_NODE);
    expect(new Set(names).size).toBe(nodes.length);
    for (const [name, v] of nodes) {
      expect(nodeConfig(v).cluster?.node, name).toBe(envOf(v).VIGIL_NODE);
      expect(v.hostname, name).toBe(envOf(v).VIGIL_NODE);
      // it advertises its own service name and the port it listens on (the file_sd target)
      const url = new URL(envOf(v).VIGIL_ADVERTISE_URL as string);
      expect(s[url.hostname], `${name}: advertised host`).toBe(v);
      expect(Number(url.port)).toBe(nodeConfig(v).config.server.port);
    }
  });

  it('every variable it sets is one Vigil reads, with a value Vigil accepts', () => {
    for (const [name, v] of nodes) {
      const env = envOf(v);
      const { read } = nodeConfig(v);
      expect(unreadVariables(env, read), name).toEqual([]);
    }
  });

  it('an unknown or misspelt variable is caught', () => {
    const [, v] = nodes[0] as [string, Service];
    const env = { ...envOf(v), VIGIL_CLUSTER_NAT: 'nats://nats:4222', VIGIL_NODES: 'x', CLUSTER_NODE: 'y' };
    const { read } = resolveVigilEnv(loadConfig(nodeConfig(v).file), env);
    expect(unreadVariables(env, read).sort()).toEqual(['CLUSTER_NODE', 'VIGIL_CLUSTER_NAT', 'VIGIL_NODES']);
    // and a malformed value fails as start-up would, naming the variable
    expect(() =>
      resolveVigilEnv(loadConfig(nodeConfig(v).file), { ...env, VIGIL_NODE: 'no spaces' }),
    ).toThrow(/VIGIL_NODE \(cluster\.node\)/);
  });

  it('the mounted config passes Vigil own loader and reference checks, with cluster mode from the env', () => {
    const files = new Set<string>();
    for (const [name, v] of nodes) {
      const r = nodeConfig(v);
      files.add(r.file);
      expect(r.file.startsWith('./'), `${name} mounts its config from the repository`).toBe(true);
      expect(referenceProblems(r.config), name).toEqual([]);
      // a `cluster` key in the file would win over the environment: every node would be one name
      expect(r.config.cluster, `${r.file} must not set cluster`).toBeUndefined();
      expect(r.cluster, name).toMatchObject({ node: envOf(v).VIGIL_NODE });
      expect(r.config.server.host).toBe('0.0.0.0');
      // listening beyond loopback needs tokens: the same on every node (one UI)
      expect(r.auth.token, name).toBe(nodeConfig(nodes[0]?.[1] as Service).auth.token);
      expect(r.auth.adminToken, name).toBeTruthy();
    }
    expect(files.size, 'the same cameras on every node').toBe(1);
    expect(nodeConfig(nodes[0]?.[1] as Service).config.streams.length).toBeGreaterThanOrEqual(nodes.length);
  });

  it('NATS and PostgreSQL URLs name the nats and postgres services, with postgres own credentials', () => {
    const pg = envOf(s.postgres);
    for (const [name, v] of nodes) {
      const { cluster } = nodeConfig(v);
      const nats = new URL(cluster?.nats as string);
      expect(s[nats.hostname], `${name}: NATS host`).toBe(s.nats);
      expect(nats.port).toBe('4222'); // nats-server's client port (the command does not change it)
      expect(argAfter(s.nats?.command, '-p')).toBe('');
      const db = new URL(cluster?.postgres as string);
      expect(s[db.hostname], `${name}: PostgreSQL host`).toBe(s.postgres);
      expect([db.port, db.username, db.password, db.pathname]).toEqual([
        '5432',
        pg.POSTGRES_USER,
        pg.POSTGRES_PASSWORD,
        `/${pg.POSTGRES_DB}`,
      ]);
    }
  });

  it('waits for healthy nats and postgres, is stateless (tmpfs dataDir), stops gracefully', () => {
    for (const [name, v] of nodes) {
      expect(dependsOn(v), name).toMatchObject({ nats: 'service_healthy', postgres: 'service_healthy' });
      const { config } = nodeConfig(v);
      const tmpfs = [v.tmpfs ?? []].flat();
      expect(tmpfs, `${name}: dataDir ${config.dataDir} is scratch`).toContain(config.dataDir);
      // no named volume or host folder holds anything of the node's except the file_sd folder
      const persistent = (v.volumes ?? []).filter(
        (m) => !m.endsWith(':ro') && !m.startsWith('prometheus-sd:'),
      );
      expect(persistent, name).toEqual([]);
      expect(String(v.healthcheck?.test)).toContain(`127.0.0.1:${config.server.port}/api/health`);
      // Vigil forces its exit 10 s after SIGTERM (src/cli.ts): compose must not kill it before
      const force = forcedExitMs();
      expect(force).toBeGreaterThan(0);
      expect(Number.parseInt(v.stop_grace_period ?? '10s', 10) * 1000, name).toBeGreaterThan(force);
    }
  });
});

describe(`${FILE}: Prometheus finds the nodes by file_sd, Grafana reads Prometheus`, () => {
  const promCmd = s.prometheus?.command as string[];
  const promFile = (promCmd.find((a) => a.startsWith('--config.file=')) ?? '').split('=')[1] as string;
  const hostFile = (s.prometheus?.volumes ?? []).map((m) => m.split(':')).find((m) => m[1] === promFile)?.[0];
  const promCfg = () =>
    parse(readFileSync(hostFile as string, 'utf8')) as {
      rule_files: string[];
      scrape_configs: Array<{ job_name: string; file_sd_configs?: Array<{ files: string[] }> }>;
    };

  it('prometheus reads prometheus/prometheus.cluster.yml and its rule files, all mounted', () => {
    expect(hostFile).toBe('./prometheus/prometheus.cluster.yml');
    for (const f of promCfg().rule_files) {
      const inContainer = posix.join(posix.dirname(promFile), f);
      const mounted = (s.prometheus?.volumes ?? [])
        .map((m) => m.split(':'))
        .find((m) => m[1] === inContainer);
      expect(mounted, `rule file ${inContainer} mounted`).toBeDefined();
      expect(existsSync(mounted?.[0] as string)).toBe(true);
    }
  });

  /** The file_sd pattern of the vigil job, e.g. /etc/prometheus/vigil-nodes/*.json. */
  const sdPattern = () =>
    promCfg().scrape_configs.find((j) => j.job_name === 'vigil')?.file_sd_configs?.[0]?.files[0] as string;
  /** Prometheus' file_sd glob (only `*` here) as a regular expression for a file name. */
  const globMatches = (glob: string, name: string) =>
    new RegExp(`^${glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}$`).test(name);

  it('the file the nodes write is a file_sd file Prometheus reads, through one shared volume', () => {
    const pattern = sdPattern();
    const volume = (s.prometheus?.volumes ?? [])
      .map((m) => m.split(':'))
      .find((m) => m[1] === posix.dirname(pattern));
    expect(volume, `a volume at ${posix.dirname(pattern)}`).toBeDefined();
    expect(volume?.[2], 'Prometheus only reads it').toBe('ro');
    for (const [name, v] of nodes) {
      const written = envOf(v).VIGIL_PROMETHEUS_FILE_SD as string;
      expect(globMatches(posix.basename(pattern), posix.basename(written)), `${name}: ${written}`).toBe(true);
      expect(mountOf(v, volume?.[0] as string), `${name} mounts ${volume?.[0]}`).toBe(posix.dirname(written));
    }
    expect(globMatches('*.json', 'vigil-nodes.json.tmp')).toBe(false);
    // the image makes that folder the node user's, so the empty volume is writable (Dockerfile)
    expect(readFileSync('Dockerfile', 'utf8')).toMatch(/chown node:node [^\n]*\/app\/prometheus-sd/);
  });

  const skipPromtool = skipUnless(binaryMissing('promtool'), 'promtool check of prometheus.cluster.yml');

  it.skipIf(skipPromtool)(
    'prometheus.cluster.yml passes promtool, with a file_sd file as the nodes write it',
    () => {
      const promtool = (file: string) => {
        const r = spawnSync('promtool', ['check', 'config', file], { encoding: 'utf8', timeout: 30_000 });
        return { code: r.status, out: `${r.stdout}${r.stderr}` };
      };
      const asIs = promtool(hostFile as string);
      expect(asIs.code, asIs.out).toBe(0);
      expect(asIs.out).toMatch(/SUCCESS: 1 rule files found/);
      // the same config with the file_sd path in a temporary folder holding targets of the 3 nodes
      const dir = mkdtempSync(join(tmpdir(), 'vigil-sd-'));
      try {
        // as a node writes it (VIGIL_PROMETHEUS_FILE_SD), where the pattern looks
        const sd = join(dir, posix.basename(envOf(nodes[0]?.[1]).VIGIL_PROMETHEUS_FILE_SD as string));
        const targets = nodes.map(([, v]) => ({
          targets: [`${v.hostname}:${containerPorts(v)[0]}`],
          labels: { node: envOf(v).VIGIL_NODE },
        }));
        writeFileSync(sd, JSON.stringify(targets));
        const text = readFileSync(hostFile as string, 'utf8').replaceAll(
          sdPattern(),
          join(dir, posix.basename(sdPattern())),
        );
        const copy = join(dir, basename(hostFile as string));
        writeFileSync(copy, text);
        writeFileSync(join(dir, 'rules.yml'), readFileSync(join(dirname(hostFile as string), 'rules.yml')));
        const r = promtool(copy);
        expect(r.code, r.out).toBe(0);
        expect(r.out).not.toMatch(/WARNING|FAILED/);
        // promtool does read the targets: a misspelt field fails
        writeFileSync(sd, JSON.stringify([{ target: targets[0]?.targets }]));
        const bad = promtool(copy);
        expect(bad.out).toMatch(/FAILED: checking SD file .*unknown field "target"/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it('grafana is provisioned from the repository grafana/ folder and its data source is prometheus', () => {
    expect(mountOf(s.grafana, './grafana/provisioning')).toBe('/etc/grafana/provisioning');
    const dashDir = mountOf(s.grafana, './grafana/dashboards') as string;
    const provider = parse(readFileSync('grafana/provisioning/dashboards/vigil.yml', 'utf8')) as {
      providers: Array<{ options: { path: string } }>;
    };
    expect(provider.providers[0]?.options.path).toBe(dashDir);
    const home = envOf(s.grafana).GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH as string;
    expect(existsSync(join('grafana/dashboards', home.slice(dashDir.length + 1)))).toBe(true);
    const ds = parse(readFileSync('grafana/provisioning/datasources/prometheus.yml', 'utf8')) as {
      datasources: Array<{ url: string }>;
    };
    const url = new URL(ds.datasources[0]?.url ?? '');
    expect(s[url.hostname], `data source host ${url.hostname}`).toBe(s.prometheus);
    expect(url.port).toBe('9090');
  });

  it('the RTSP camera of the config is the one the publisher pushes to mediamtx', () => {
    const { config } = nodeConfig(nodes[0]?.[1] as Service);
    const rtsp = config.streams.find((x) => x.url?.startsWith('rtsp://'))?.url as string;
    expect([s.publisher?.command ?? []].flat().at(-1)).toBe(rtsp);
    expect(s[new URL(rtsp).hostname]).toBe(s.mediamtx);
  });
});
