/**
 * Reading docker-compose files without Docker, for the compose tests: YAML with anchors and merge
 * keys (`<<: *x`, as Compose reads them), `${VAR:-default}` interpolation, the short port syntax,
 * a service's build, mounts and environment.
 */
import { readFileSync } from 'node:fs';
import { normalize } from 'node:path';
import { parse } from 'yaml';

export interface Service {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string[] | string;
  hostname?: string;
  ports?: Array<string | number>;
  volumes?: string[];
  tmpfs?: string[] | string;
  environment?: Record<string, string> | string[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string[] | string };
  stop_grace_period?: string;
}
export interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

/** The compose file as Compose sees it: merge keys applied, `x-` extensions kept. */
export function loadCompose(file: string): Compose {
  return parse(readFileSync(file, 'utf8'), { merge: true }) as Compose;
}

/**
 * Compose's variable interpolation with an empty host environment unless given: `${A:-d}` and
 * `${A-d}` give the default, `${A}` / `$A` the value or "", `$$` a literal `$`.
 */
export function interpolate(value: string, host: Record<string, string> = {}): string {
  return value.replace(
    /\$\$|\$\{([A-Za-z_]\w*)(?:(:?-)([^}]*))?\}|\$([A-Za-z_]\w*)/g,
    (all, braced?: string, op?: string, dflt?: string, bare?: string) => {
      if (all === '$$') return '$';
      const name = (braced ?? bare) as string;
      const v = host[name];
      if (op === ':-') return v ? v : (dflt ?? '');
      if (op === '-') return v ?? dflt ?? '';
      return v ?? '';
    },
  );
}

export function buildOf(s: Service): { context: string; dockerfile: string } | null {
  if (!s.build) return null;
  if (typeof s.build === 'string') return { context: s.build, dockerfile: 'Dockerfile' };
  return { context: s.build.context ?? '.', dockerfile: s.build.dockerfile ?? 'Dockerfile' };
}

/** "[ip:]host:container[/proto]" or "container" -> numbers; null when malformed. */
export function parsePort(
  p: string | number,
): { ip?: string; host?: number; container: number; proto: string } | null {
  const m = /^(?:((?:\d{1,3}\.){3}\d{1,3}):)?(?:(\d+):)?(\d+)(?:\/(tcp|udp))?$/.exec(String(p));
  if (!m) return null;
  const r = {
    ip: m[1],
    host: m[2] ? Number(m[2]) : undefined,
    container: Number(m[3]),
    proto: m[4] ?? 'tcp',
  };
  const ok = (n?: number) => n === undefined || (Number.isInteger(n) && n >= 1 && n <= 65535);
  if (!ok(r.host) || !ok(r.container)) return null;
  if (r.ip?.split('.').some((o) => Number(o) > 255)) return null;
  return r;
}

/** The argument that follows `flag` in a command list. */
export function argAfter(cmd: Service['command'], flag: string): string {
  const a = Array.isArray(cmd) ? cmd : [];
  const i = a.indexOf(flag);
  return i < 0 ? '' : (a[i + 1] ?? '');
}

/** Where `source` (a host path or a named volume) is mounted in the service, or undefined. */
export function mountOf(s: Service | undefined, source: string): string | undefined {
  const isPath = source.startsWith('.') || source.startsWith('/');
  return (s?.volumes ?? [])
    .map((v) => v.split(':'))
    .find((v) => (isPath ? normalize(v[0] as string) === normalize(source) : v[0] === source))?.[1];
}

/** The service's environment, interpolated as Compose would with `host` as its environment. */
export function envOf(s: Service | undefined, host: Record<string, string> = {}): Record<string, string> {
  const raw = Array.isArray(s?.environment)
    ? Object.fromEntries(s.environment.map((e) => e.split('=', 2) as [string, string]))
    : (s?.environment ?? {});
  return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, interpolate(String(v), host)]));
}

export function dependsOn(s: Service | undefined): Record<string, string> {
  const d = s?.depends_on ?? [];
  if (Array.isArray(d)) return Object.fromEntries(d.map((n) => [n, 'service_started']));
  return Object.fromEntries(Object.entries(d).map(([n, v]) => [n, v.condition ?? 'service_started']));
}
