import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { AccessToken, type AuthConfig } from '../config/schema.js';

/** The request's URL, or null when it cannot be parsed (e.g. "///"): answer 400, never throw. */
export function requestUrl(req: IncomingMessage): URL | null {
  try {
    return new URL(req.url ?? '/', 'http://localhost');
  } catch {
    return null;
  }
}

/** Loopback addresses and names: only processes on this machine can connect or resolve them. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return h === 'localhost' || h.endsWith('.localhost') || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** A token from the environment, held to the config file's rule; the error names the variable. */
function envToken(env: NodeJS.ProcessEnv, name: 'VIGIL_TOKEN' | 'VIGIL_ADMIN_TOKEN'): string | undefined {
  const value = env[name];
  if (!value) return undefined;
  const r = AccessToken.safeParse(value);
  if (!r.success) throw new Error(`${name}: ${r.error.issues[0]?.message} (it has ${value.length})`);
  return r.data;
}

/** The auth settings in force: config values, else VIGIL_TOKEN / VIGIL_ADMIN_TOKEN. */
export function resolveAuth(a: AuthConfig, env: NodeJS.ProcessEnv = process.env): AuthConfig {
  return {
    ...a,
    token: a.token ?? envToken(env, 'VIGIL_TOKEN'),
    adminToken: a.adminToken ?? envToken(env, 'VIGIL_ADMIN_TOKEN'),
  };
}

/** The host name of a Host header: lower case, without the port ("[::1]:8080" -> "[::1]"). */
export function hostName(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^(\[[^\]]*\]|[^:]*)(:\d*)?$/.exec(header.trim().toLowerCase());
  return m?.[1] || undefined;
}

function matchesHost(name: string, pattern: string): boolean {
  return pattern.startsWith('*.') ? name.endsWith(pattern.slice(1)) : name === pattern;
}

/** The Host check's inputs: server.host and server.allowedHosts. */
export interface HostRule {
  listen: string;
  allowed: readonly string[];
}

/**
 * DNS-rebinding guard: a page on evil.example whose name resolves to 127.0.0.1 reaches this server
 * with `Host: evil.example` (and a matching Origin, so the origin check alone lets it through).
 * While listening on loopback (tokens optional), or whenever server.allowedHosts is set, the
 * Host must be a loopback name or address, the listen address, or an allowed host.
 */
export function hostAllowed(req: IncomingMessage, hosts: HostRule): boolean {
  const { listen: listenHost, allowed } = hosts;
  if (!isLoopback(listenHost) && !allowed.length) return true; // both tokens guard it
  const name = hostName(req.headers.host);
  if (!name) return false;
  if (isLoopback(name) || name === listenHost.toLowerCase()) return true;
  return allowed.some((p) => matchesHost(name, p));
}

/** Refuses to expose Vigil beyond loopback without tokens: face data is personal data. */
export function checkExposure(host: string, a: AuthConfig): void {
  if (isLoopback(host)) return;
  const missing = [
    !a.token && 'server.auth.token (or VIGIL_TOKEN)',
    !a.adminToken && 'server.auth.adminToken (or VIGIL_ADMIN_TOKEN)',
  ].filter(Boolean);
  if (missing.length)
    throw new Error(
      `server.host "${host}" listens beyond loopback: set ${missing.join(' and ')} (16+ characters), or listen on 127.0.0.1`,
    );
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The token a request carries: Authorization: Bearer, else ?token= (WebSocket, <img>). */
export function requestToken(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (h?.startsWith('Bearer ')) return h.slice(7).trim();
  return requestUrl(req)?.searchParams.get('token') ?? undefined;
}

export type Access = 'open' | 'user' | 'admin';

/** Who is asking: an admin token also counts as a user token. */
export function accessOf(req: IncomingMessage, a: AuthConfig): Access | 'denied' {
  const t = requestToken(req);
  if (a.adminToken && t && same(t, a.adminToken)) return 'admin';
  if (a.token && t && same(t, a.token)) return 'user';
  if (!a.token && !a.adminToken) return 'open';
  if (!a.token && !t) return 'user'; // only an admin token is configured: reading is open
  return 'denied';
}

/**
 * Same-origin check (CORS closed by default, and no cross-site requests with the page's
 * credentials): a request with an Origin header must come from the server's own host or an allowed
 * origin.
 */
export function originAllowed(req: IncomingMessage, a: AuthConfig): boolean {
  const origin = req.headers.origin;
  if (!origin) return true; // not a browser cross-origin request (curl, Prometheus, server-side)
  try {
    if (new URL(origin).host === req.headers.host) return true;
  } catch {
    return false;
  }
  return a.allowedOrigins.some((o) => new URL(o).origin === origin);
}
