/**
 * deploy/kubernetes/vigil.yaml checked without a cluster: every document parses and is
 * namespaced, selectors match the pod labels, the ConfigMap's config passes Vigil's own loader
 * with the environment the pods get (fieldRef / secretKeyRef resolved from the manifest), every
 * variable is one Vigil reads, nodes are stateless, the probes answer on Vigil's real API route
 * table without a token, and the Prometheus DNS discovery names the headless Service.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import Fastify from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import { referenceProblems } from '../../src/config/references.js';
import { createApi } from '../../src/server/api.js';
import { binaryMissing } from '../helpers/prometheus.js';
import { skipUnless } from '../helpers/requirements.js';
import { forcedExitMs, resolveVigilEnv, unreadVariables } from '../helpers/vigil-env.js';

const FILE = 'deploy/kubernetes/vigil.yaml';

type Labels = Record<string, string>;
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    fieldRef?: { fieldPath: string };
    secretKeyRef?: { name: string; key: string };
    configMapKeyRef?: { name: string; key: string };
  };
}
interface Probe {
  httpGet?: { path: string; port: string | number };
}
interface Container {
  name: string;
  command: string[];
  ports: Array<{ name?: string; containerPort: number }>;
  env: EnvVar[];
  volumeMounts: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
  startupProbe?: Probe;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}
interface PodSpec {
  terminationGracePeriodSeconds?: number;
  containers: Container[];
  volumes: Array<{ name: string; configMap?: { name: string }; emptyDir?: object }>;
}
type Doc = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  // biome-ignore lint/suspicious/noExplicitAny: the documents are of several kinds, read by key
  [k: string]: any;
};

const docs = parseAllDocuments(readFileSync(FILE, 'utf8'));
const objects = docs.map((d) => d.toJS() as Doc);
const ofKind = (kind: string) => objects.filter((o) => o.kind === kind);
const one = (kind: string, name?: string) =>
  ofKind(kind).find((o) => name === undefined || o.metadata.name === name) as Doc;

const deployment = one('Deployment');
const pod = deployment.spec.template as { metadata: { labels: Labels }; spec: PodSpec };
const vigil = pod.spec.containers[0] as Container;
/** A pod name as the Deployment's ReplicaSet makes them: <deployment>-<template hash>-<suffix>. */
const POD_NAME = `${deployment.metadata.name}-6d4cf56b8f-x7k2p`;
const FIELDS: Record<string, string> = { 'metadata.name': POD_NAME, 'status.podIP': '10.42.1.17' };

const matches = (selector: Labels, labels: Labels) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

function secretValue(name: string, key: string): string {
  const s = one('Secret', name);
  expect(s, `Secret ${name}`).toBeDefined();
  const v =
    s.stringData?.[key] ?? (s.data?.[key] ? Buffer.from(s.data[key], 'base64').toString() : undefined);
  expect(v, `Secret ${name} key ${key}`).toBeDefined();
  return v as string;
}

/** The container's environment as the kubelet would set it in the pod POD_NAME. */
function podEnv(c: Container): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of c.env) {
    const from = e.valueFrom;
    // $(NAME) takes a variable defined above it, as the kubelet expands it
    if (e.value !== undefined) out[e.name] = e.value.replace(/\$\((\w+)\)/g, (m, n: string) => out[n] ?? m);
    else if (from?.fieldRef) {
      expect(FIELDS[from.fieldRef.fieldPath], `${e.name}: ${from.fieldRef.fieldPath}`).toBeDefined();
      out[e.name] = FIELDS[from.fieldRef.fieldPath] as string;
    } else if (from?.secretKeyRef) out[e.name] = secretValue(from.secretKeyRef.name, from.secretKeyRef.key);
    else if (from?.configMapKeyRef)
      out[e.name] = one('ConfigMap', from.configMapKeyRef.name).data[from.configMapKeyRef.key];
    else throw new Error(`${e.name}: no value`);
  }
  return out;
}

/** Variables that only feed another's $(NAME). */
const expansionOnly = (c: Container) =>
  c.env.map((e) => e.name).filter((n) => c.env.some((e) => e.value?.includes(`$(${n})`)));

/** The config file the container runs with: a key of the ConfigMap mounted at its folder. */
function mountedConfig(c: Container) {
  const path = c.command[c.command.indexOf('--config') + 1] as string;
  const mount = c.volumeMounts.find((m) => m.mountPath === posix.dirname(path));
  expect(mount, `a volume mounted at ${posix.dirname(path)}`).toBeDefined();
  const volume = pod.spec.volumes.find((v) => v.name === mount?.name);
  const cm = one('ConfigMap', volume?.configMap?.name);
  expect(cm, `ConfigMap of volume ${mount?.name}`).toBeDefined();
  const text = cm.data[posix.basename(path)] as string;
  expect(text, `key ${posix.basename(path)} in ConfigMap ${cm.metadata.name}`).toBeDefined();
  return parseConfig(text, `${FILE}: ConfigMap ${cm.metadata.name}`);
}

const portOf = (c: Container, p: string | number | undefined) =>
  typeof p === 'number' ? p : c.ports.find((x) => x.name === p)?.containerPort;

describe(`${FILE}: the documents`, () => {
  it('parse without errors, each with apiVersion, kind, name, in the vigil namespace', () => {
    for (const d of docs) expect(d.errors, String(d.errors[0])).toEqual([]);
    const ns = one('Namespace').metadata.name;
    for (const o of objects) {
      expect(o.apiVersion && o.kind && o.metadata?.name, JSON.stringify(o).slice(0, 80)).toBeTruthy();
      if (o.kind !== 'Namespace') expect(o.metadata.namespace, `${o.kind} ${o.metadata.name}`).toBe(ns);
    }
    expect(objects.map((o) => o.kind).sort()).toEqual(
      ['ConfigMap', 'Deployment', 'Namespace', 'PodDisruptionBudget', 'Secret', 'Service', 'Service'].sort(),
    );
  });

  it('the Deployment, both Services and the PodDisruptionBudget select the pods', () => {
    expect(matches(deployment.spec.selector.matchLabels, pod.metadata.labels)).toBe(true);
    for (const o of [...ofKind('Service'), one('PodDisruptionBudget')]) {
      const sel = o.spec.selector.matchLabels ?? o.spec.selector;
      expect(Object.keys(sel).length, `${o.kind} ${o.metadata.name}`).toBeGreaterThan(0);
      expect(matches(sel, pod.metadata.labels), `${o.kind} ${o.metadata.name} selector`).toBe(true);
    }
    expect(matches({ ...pod.metadata.labels, extra: 'x' }, pod.metadata.labels)).toBe(false);
  });

  it('the Services reach the port Vigil listens on; one is headless', () => {
    const config = mountedConfig(vigil);
    expect(vigil.ports.map((p) => p.containerPort)).toEqual([config.server.port]);
    expect(config.server.host).toBe('0.0.0.0');
    for (const svc of ofKind('Service'))
      for (const p of svc.spec.ports)
        expect(portOf(vigil, p.targetPort ?? p.port), `${svc.metadata.name} targetPort`).toBe(
          config.server.port,
        );
    expect(ofKind('Service').filter((s) => s.spec.clusterIP === 'None')).toHaveLength(1);
  });
});

describe(`${FILE}: the Vigil nodes`, () => {
  it('3 replicas; VIGIL_NODE is the pod name (unique per pod)', () => {
    expect(deployment.spec.replicas).toBe(3);
    const node = vigil.env.find((e) => e.name === 'VIGIL_NODE');
    expect(node?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.name');
  });

  it("the ConfigMap's config passes Vigil's loader and reference checks, with cluster mode from the env", () => {
    const config = mountedConfig(vigil);
    expect(referenceProblems(config)).toEqual([]);
    expect(config.cluster, 'a cluster key would override every pod name').toBeUndefined();
    const r = resolveVigilEnv(config, podEnv(vigil));
    expect(r.cluster).toMatchObject({ node: POD_NAME });
    expect(new URL(r.cluster?.nats as string).port).toBe('4222');
    expect(r.auth.token && r.auth.adminToken).toBeTruthy();
    // the longest pod name Kubernetes makes (63 characters) is still a valid node name
    const long = { ...podEnv(vigil), VIGIL_NODE: 'v'.repeat(63) };
    expect(resolveVigilEnv(config, long).cluster?.node).toHaveLength(63);
  });

  it('every variable is one Vigil reads; a misspelt one would be caught', () => {
    const config = mountedConfig(vigil);
    const env = podEnv(vigil);
    const helpers = expansionOnly(vigil);
    expect(helpers).toEqual(['POD_IP']);
    expect(unreadVariables(env, resolveVigilEnv(config, env).read, helpers)).toEqual([]);
    const typo = { ...env, VIGIL_CLUSTER_POSTGRESQL: env.VIGIL_CLUSTER_POSTGRES as string };
    expect(unreadVariables(typo, resolveVigilEnv(config, typo).read, helpers)).toEqual([
      'VIGIL_CLUSTER_POSTGRESQL',
    ]);
    expect(unreadVariables(env, resolveVigilEnv(config, env).read)).toEqual(['POD_IP']);
    // the advertised URL is this pod's IP on the port Vigil listens on
    expect(new URL(env.VIGIL_ADVERTISE_URL as string).port).toBe(String(config.server.port));
    expect(env.VIGIL_ADVERTISE_URL).toBe(`http://${FIELDS['status.podIP']}:${config.server.port}`);
  });

  it('stateless: dataDir is an emptyDir, the config read-only; grace outlasts the graceful stop', () => {
    const config = mountedConfig(vigil);
    const data = vigil.volumeMounts.find((m) => m.mountPath === config.dataDir);
    const volume = pod.spec.volumes.find((v) => v.name === data?.name);
    expect(volume?.emptyDir, `dataDir ${config.dataDir} on an emptyDir`).toBeDefined();
    for (const m of vigil.volumeMounts.filter((x) => x !== data)) expect(m.readOnly, m.name).toBe(true);
    expect(pod.spec.volumes.every((v) => v.emptyDir || v.configMap)).toBe(true);
    expect((pod.spec.terminationGracePeriodSeconds ?? 30) * 1000).toBeGreaterThan(forcedExitMs());
    expect(deployment.spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
  });

  it('requests and limits CPU and memory', () => {
    for (const k of ['requests', 'limits'] as const)
      expect(Object.keys(vigil.resources?.[k] ?? {}).sort(), k).toEqual(['cpu', 'memory']);
  });

  describe('the probes', () => {
    const server = Fastify();
    afterAll(() => server.close());

    it("answer 200 on Vigil's API route table, on the container's port", async () => {
      // The API alone (no pipeline): its route table is Vigil's. Without a token /api/health is
      // open (src/server/http.ts; test/integration/security.test.ts checks that with tokens set).
      createApi({ streams: () => [], health: () => ({ status: 'ok' }), maxBodyBytes: 1024 }).register(server);
      const config = mountedConfig(vigil);
      const probes = [vigil.startupProbe, vigil.readinessProbe, vigil.livenessProbe];
      expect(probes.every((p) => p?.httpGet)).toBe(true);
      for (const p of probes) {
        expect(portOf(vigil, p?.httpGet?.port)).toBe(config.server.port);
        const r = await server.inject({ method: 'GET', url: p?.httpGet?.path as string });
        expect([p?.httpGet?.path, r.statusCode]).toEqual([p?.httpGet?.path, 200]);
      }
      // a path that is not a route would fail
      expect((await server.inject({ method: 'GET', url: '/api/healthz' })).statusCode).toBe(404);
    });
  });
});

describe('prometheus/prometheus.kubernetes.yml: DNS discovery of the pods', () => {
  const FILE_K8S = 'prometheus/prometheus.kubernetes.yml';
  const cfg = parse(readFileSync(FILE_K8S, 'utf8')) as {
    scrape_configs: Array<{
      job_name: string;
      dns_sd_configs: Array<{ names: string[]; type: string; port: number }>;
    }>;
  };

  it('asks for the A records of the headless Service, on the container port', () => {
    const headless = ofKind('Service').find((s) => s.spec.clusterIP === 'None') as Doc;
    const sd = cfg.scrape_configs.find((j) => j.job_name === 'vigil')?.dns_sd_configs[0];
    expect(sd?.names).toEqual([`${headless.metadata.name}.${headless.metadata.namespace}.svc.cluster.local`]);
    expect(sd?.type).toBe('A');
    expect(sd?.port).toBe(vigil.ports[0]?.containerPort);
  });

  const skipPromtool = skipUnless(binaryMissing('promtool'), 'promtool check of prometheus.kubernetes.yml');
  it.skipIf(skipPromtool)('passes promtool check config', () => {
    const r = spawnSync('promtool', ['check', 'config', FILE_K8S], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/SUCCESS: 1 rule files found/);
  });
});
