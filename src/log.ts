import { type DestinationStream, pino } from 'pino';
import { redactUrlsIn } from './util/redact-url.js';

export type Logger = pino.Logger;

/** Cheap test for a line that may carry a credential (most lines carry none). */
const MAY_CARRY_SECRET = /:\/\/|%3A%2F%2F|=/i;

/** Every string inside a parsed log line, redacted; `changed` says whether any was. */
function redactStrings(v: unknown, changed: { any: boolean }): unknown {
  if (typeof v === 'string') {
    const r = redactUrlsIn(v);
    if (r !== v) changed.any = true;
    return r;
  }
  if (Array.isArray(v)) return v.map((x) => redactStrings(x, changed));
  if (v && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, redactStrings(x, changed)]));
  return v;
}

/**
 * The finished JSON line with credentials in URLs hidden, wherever they are: in a field, inside
 * the message text or in an error's message and stack (field-name redaction cannot reach those).
 * Strings are redacted decoded, so JSON escaping cannot hide a password from the patterns.
 */
export function redactLogLine(line: string): string {
  if (!MAY_CARRY_SECRET.test(line)) return line;
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return redactUrlsIn(line); // not JSON (a pretty-printing transport): redact the text as is
  }
  const changed = { any: false };
  const out = redactStrings(parsed, changed);
  return changed.any ? `${JSON.stringify(out)}${line.endsWith('\n') ? '\n' : ''}` : line;
}

/**
 * JSON logs on stdout (pipe through pino-pretty to read them in a terminal), every line passed
 * through `redactLogLine`. `destination`: another stream (tests).
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = { level, base: { service: 'vigil' }, hooks: { streamWrite: redactLogLine } };
  return destination ? pino(options, destination) : pino(options);
}
