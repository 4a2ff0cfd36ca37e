// The HTTP API (/api/*): every error is JSON {error}; the page shows that message as is.
import { auth } from './auth.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Called when the server wants a (different) token: 401 on an API call. */
let onUnauthorized: (message: string) => void = () => {};
export function whenUnauthorized(f: (message: string) => void): void {
  onUnauthorized = f;
}

export async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, { ...init, headers: auth.headers(init.headers) });
  } catch {
    throw new ApiError(0, 'the server cannot be reached');
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (!res.ok) {
    const msg = (body as { error?: unknown } | undefined)?.error;
    if (res.status === 401) onUnauthorized(typeof msg === 'string' ? msg : 'an access token is required');
    throw new ApiError(res.status, typeof msg === 'string' ? msg : `HTTP ${res.status} ${res.statusText}`);
  }
  return body as T;
}

export const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));
