// Access tokens (server.auth): when the server requires one, the page asks for it once and keeps it
// in this browser (localStorage). It is sent as "Authorization: Bearer" with API calls, and as
// ?token= where a header cannot be set (the WebSocket, <img> snapshots and thumbnails). Opening the
// page as /?token=… stores the token and removes it from the address bar. The admin token also works
// as the viewing token; without it, enrolling, renaming and deleting get the server's 403 message.

const KEY = 'vigil.token';
const listeners: Array<() => void> = [];

function initial(): string | undefined {
  const url = new URL(location.href);
  const t = url.searchParams.get('token');
  if (t) {
    localStorage.setItem(KEY, t);
    url.searchParams.delete('token');
    history.replaceState(null, '', url.toString());
    return t;
  }
  return localStorage.getItem(KEY) ?? undefined;
}

let token = initial();

export const auth = {
  get token(): string | undefined {
    return token;
  },
  set(t: string | undefined): void {
    token = t?.trim() || undefined;
    if (token) localStorage.setItem(KEY, token);
    else localStorage.removeItem(KEY);
    for (const f of listeners) f();
  },
  onChange(f: () => void): void {
    listeners.push(f);
  },
  /** Request headers with the token. */
  headers(h?: HeadersInit): Headers {
    const out = new Headers(h);
    if (token) out.set('authorization', `Bearer ${token}`);
    return out;
  },
  /** A same-origin URL (path and query) with ?token= added, for the WebSocket and images. */
  url(path: string): string {
    if (!token) return path;
    return `${path}${path.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
  },
};
