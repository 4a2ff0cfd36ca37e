/**
 * People's names, one rule wherever a name enters (HTTP enroll and rename, enroll from an alert or a
 * live camera, naming an unknown-face cluster, `vigil enroll`): a name is what a person reads, so two
 * names that look the same must be the same name, and nothing invisible may hide in one.
 *
 *  - stored in NFC ("José" typed as e + U+0301 and as é is one name), trimmed, inner runs of spaces
 *    (any Unicode space) made one ASCII space;
 *  - refused: control characters (Cc), invisible format characters (Cf: zero-width space and
 *    joiners, bidi marks, overrides and isolates, soft hyphen, BOM), line/paragraph separators
 *    (Zl/Zp), blank letters (Hangul fillers...), private-use and unassigned code points, lone
 *    surrogates, and U+FFFD (what invalid UTF-8 becomes once decoded leniently);
 *  - at most NAME_MAX code points; "unknown" is reserved;
 *  - compared through nameKey (NFKC, case-folded): "JOSÉ", "josé" and "ｊｏｓé" are duplicates.
 *
 * Raw request bytes are decoded with decodeUtf8 (fatal), so invalid UTF-8 is refused by name
 * before it can turn into U+FFFD.
 */
import { GalleryError } from './gallery/errors.js';

/** Longest name, in code points. */
export const NAME_MAX = 100;

const CONTROL = /\p{Cc}/u;
/** Bidi embeddings, overrides and isolates, and the marks (LRM, RLM, ALM). */
const BIDI = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/u;
/** Invisible characters outside Cf: blank Hangul fillers, the combining grapheme joiner, Khmer and Mongolian invisibles, braille blank. */
const BLANK = /\u034F|\u115F|\u1160|\u17B4|\u17B5|\u180B|\u180C|\u180D|\u180E|\u180F|\u2800|\u3164|\uFFA0/u;
const INVISIBLE = /[\p{Cf}\p{Zl}\p{Zp}]/u;
const NOT_A_CHARACTER = /[\p{Co}\p{Cn}]/u;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const codePoint = (ch: string) => `U+${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;

function refuse(name: string, re: RegExp, what: string): void {
  const m = re.exec(name);
  if (!m) return;
  const at = [...name.slice(0, m.index)].length + 1;
  throw new GalleryError(
    `name contains ${what} (${codePoint(m[0])} at character ${at}): type the name without it`,
    400,
  );
}

/** Validates and normalises a person's name; throws GalleryError 400 naming the problem. */
export function personName(raw: unknown): string {
  if (typeof raw !== 'string') throw new GalleryError('name is required', 400);
  if (LONE_SURROGATE.test(raw))
    throw new GalleryError('name is not valid Unicode (a lone UTF-16 surrogate)', 400);
  if (raw.includes('\uFFFD'))
    throw new GalleryError(
      'name contains U+FFFD, the replacement for bytes that are not valid UTF-8: send the name as UTF-8',
      400,
    );
  const n = raw.normalize('NFC').trim();
  if (!n) throw new GalleryError('name must not be empty', 400);
  refuse(n, CONTROL, 'control characters');
  refuse(n, BIDI, 'a bidirectional control character');
  refuse(n, INVISIBLE, 'an invisible formatting character');
  refuse(n, BLANK, 'an invisible character');
  refuse(n, NOT_A_CHARACTER, 'a private-use or unassigned code point');
  if ([...n].length > NAME_MAX) throw new GalleryError(`name is longer than ${NAME_MAX} characters`, 400);
  if (nameKey(n) === 'unknown')
    throw new GalleryError('"unknown" is reserved for faces nobody enrolled', 400);
  return n.replace(/\p{Zs}+/gu, ' ');
}

/**
 * The key two names are compared by: compatibility-normalised (NFKC: fullwidth letters, ligatures)
 * and case-folded (lower, upper, lower: "ß", "ẞ" and "SS" all become "ss"; final sigma is sigma),
 * spaces trimmed and collapsed as personName stores them.
 */
export function nameKey(name: string): string {
  return name
    .normalize('NFKC')
    .toLocaleLowerCase('und')
    .toLocaleUpperCase('und')
    .toLocaleLowerCase('und')
    .normalize('NFKC')
    .trim()
    .replace(/\s+/gu, ' ');
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decodes raw bytes as UTF-8, refusing invalid sequences (400 naming `what`) instead of storing U+FFFD. */
export function decodeUtf8(bytes: Uint8Array, what: string): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new GalleryError(`${what} is not valid UTF-8: send it UTF-8 encoded`, 400);
  }
}
