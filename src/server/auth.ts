import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { AuthConfig } from '../config/schema.js';

/** The request's URL, or null when it cannot be parsed (e.g. "///"): answer 400, never throw. */
export function requestUrl(req: IncomingMessage): URL | null {
  try {
    return new URL(req.url ?? '/', 'http://localhost');
  } catch {
    return null;
  }
}

/** Loopback addresses: only processes on this machine can connect. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** The auth settings in force: config values, else VIGIL_TOKEN / VIGIL_ADMIN_TOKEN. */
export function resolveAuth(a: AuthConfig, env: NodeJS.ProcessEnv = process.env): AuthConfig {
  return {
    ...a,
    token: a.token ?? (env.VIGIL_TOKEN || undefined),
    adminToken: a.adminToken ?? (env.VIGIL_ADMIN_TOKEN || undefined),
  };
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
