/**
 * Credentials in URLs never leave the config: every error, API reply, WebSocket message and log
 * line that may carry a stream or webhook URL goes through `redactUrlsIn`. It hides the userinfo
 * (`rtsp://admin:pw@host/cam` -> `rtsp://***@host/cam`) and secret-looking query values
 * (`?password=...`, `token`, `key`...), and keeps scheme, host, port and path so an operator can
 * still tell which camera failed.
 */

export const REDACTED = '***';

const SCHEME = '[a-z][a-z0-9+.-]*';
/**
 * The authority: up to the first `/`, `?` or `#` (as ffmpeg's av_url_split reads it), and never
 * across whitespace or characters that cannot be in a URL but end one in prose or JSON.
 */
const AUTHORITY = String.raw`[^\s/?#"<>\\\`]*`;
const URL_START = new RegExp(String.raw`\b(${SCHEME}):\/\/(${AUTHORITY})`, 'gi');
/** The same with the separators percent-encoded (a URL inside another URL's query). */
const ENCODED_URL_START = new RegExp(
  String.raw`\b(${SCHEME})%3A%2F%2F((?:(?!%2F|%3F|%23)[^\s/?#&"<>\\\`])*)`,
  'gi',
);
/** A query parameter whose name says it holds a secret; the value runs to `&`, `#` or whitespace. */
const SECRET_PARAM =
  /([?&;](?:[\w.-]*?)(?:password|passwd|pass|pwd|token|key|secret|signature|sig|auth))=([^&#\s"'<>]*)/gi;

/** `host:port`, `[v6]:port` or a bare host: a colon in it that is not a port means a password. */
function looksLikeHostAndPort(authority: string): boolean {
  if (authority.startsWith('[')) return true;
  const colon = authority.indexOf(':');
  return colon < 0 || /^\d*$/.test(authority.slice(colon + 1));
}

/** Redacts the userinfo of every `scheme://` URL in `text`. */
function redactUserinfo(text: string): string {
  let out = '';
  let from = 0;
  for (const m of text.matchAll(URL_START)) {
    const scheme = m[1] ?? '';
    const authority = m[2] ?? '';
    const start = m.index + scheme.length + 3; // just after "://"
    if (start < from) continue; // inside a stretch already hidden
    let end = -1; // index in text of the '@' ending the userinfo
    const at = authority.lastIndexOf('@');
    if (at >= 0) end = start + at;
    else if (!looksLikeHostAndPort(authority)) {
      // `user:pa/ss@host` (an unencoded '/' or quote in the password): the '@' is further on.
      // Take the last '@' of the same word, else the next one on the line, else hide the rest.
      const word = /^\S*/.exec(text.slice(start))?.[0] ?? '';
      const inWord = word.lastIndexOf('@');
      const line = text.slice(start).split('\n', 1)[0] ?? '';
      const onLine = line.indexOf('@');
      end = inWord >= 0 ? start + inWord : onLine >= 0 ? start + onLine : -1;
      if (end < 0) {
        const colon = start + authority.indexOf(':') + 1;
        out += `${text.slice(from, colon)}${REDACTED}`;
        from = start + word.length;
        continue;
      }
    }
    if (end < 0) continue;
    out += `${text.slice(from, start)}${REDACTED}`;
    from = end;
  }
  return out + text.slice(from);
}

/** The same for URLs percent-encoded inside another URL (`%40` ends the userinfo). */
function redactEncodedUserinfo(text: string): string {
  return text.replace(ENCODED_URL_START, (whole, scheme: string, authority: string) => {
    const at = authority.toUpperCase().lastIndexOf('%40');
    return at < 0 ? whole : `${scheme}%3A%2F%2F${REDACTED}${authority.slice(at)}`;
  });
}

/** Hides credentials in every URL inside `text` (an error message, a log line, ffmpeg's stderr). */
export function redactUrlsIn(text: string): string {
  if (!text) return text;
  let out = text;
  if (out.includes('://')) out = redactUserinfo(out);
  if (/%3A%2F%2F/i.test(out)) out = redactEncodedUserinfo(out);
  if (out.includes('=')) out = out.replace(SECRET_PARAM, (_w, name: string) => `${name}=${REDACTED}`);
  return out;
}

/** One URL with its credentials hidden (a config value shown to a person). */
export function redactUrl(url: string): string {
  return redactUrlsIn(url);
}

/**
 * The secrets of a configured URL, as written and percent-decoded (at least 4 characters, so a
 * short one does not blank out unrelated text): hidden wherever they appear, even outside a URL
 * shape the patterns recognise.
 */
export function urlSecrets(url: string | undefined): string[] {
  if (!url) return [];
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)@/i.exec(url);
  const secrets = new Set<string>();
  const add = (s: string | undefined) => {
    if (!s || s.length < 4) return;
    secrets.add(s);
    try {
      secrets.add(decodeURIComponent(s));
    } catch {
      // not valid percent-encoding: the raw form is enough
    }
  };
  const password = m?.[1]?.includes(':') ? m[1].slice(m[1].indexOf(':') + 1) : undefined;
  add(password);
  for (const q of url.matchAll(SECRET_PARAM)) add(q[2]);
  return [...secrets].sort((a, b) => b.length - a.length);
}

/** `redactUrlsIn`, then every literal occurrence of `secrets` replaced too. */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = redactUrlsIn(text);
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join(REDACTED);
  return out;
}
