import type { IncomingMessage } from 'node:http';
import { decodeUtf8 } from '../faces/person-name.js';

/** Percent-decodes one query component to bytes ("+" is a space; a stray "%" stays itself). */
function percentBytes(s: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25 && /^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) {
      out.push(Number.parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c === 0x2b) out.push(0x20);
    else if (c < 0x80) out.push(c);
    // Node hands raw (unencoded) request-target bytes over as latin1 characters: keep the byte.
    else out.push(c & 0xff);
  }
  return Uint8Array.from(out);
}

/**
 * A query parameter decoded from the request's raw bytes as strict UTF-8. URLSearchParams turns
 * invalid percent-encoded UTF-8 ("%FF", a cut-off "%C3") into U+FFFD without a word, and a name
 * would be stored with it; this refuses it (GalleryError 400 naming the parameter). Null when the
 * parameter is absent; the first one when repeated.
 */
export function strictQueryParam(req: IncomingMessage, key: string): string | null {
  const raw = req.url ?? '';
  const q = raw.indexOf('?');
  if (q < 0) return null;
  const hash = raw.indexOf('#', q);
  const query = raw.slice(q + 1, hash < 0 ? undefined : hash);
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    const k = eq < 0 ? pair : pair.slice(0, eq);
    let name: string;
    try {
      name = decodeUtf8(percentBytes(k), 'a query parameter name');
    } catch {
      continue; // not the parameter asked for
    }
    if (name !== key) continue;
    return decodeUtf8(percentBytes(eq < 0 ? '' : pair.slice(eq + 1)), `query parameter "${key}"`);
  }
  return null;
}
