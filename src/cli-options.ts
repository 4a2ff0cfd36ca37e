import { InvalidArgumentError } from 'commander';
import { redactUrlsIn } from './util/redact-url.js';

/** A commander option parser for a number in [min, max] (an integer with `int`), naming the option on error. */
export const num =
  (what: string, min: number, max: number, int = false) =>
  (v: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max || (int && !Number.isInteger(n)))
      throw new InvalidArgumentError(
        `${what} must be ${int ? 'an integer' : 'a number'} in [${min}, ${max}]`,
      );
    return n;
  };

/** Prints `vigil: <message>` (credentials in URLs hidden) on stderr and exits with status 2. */
export function fail(e: unknown): never {
  process.stderr.write(`vigil: ${redactUrlsIn((e as Error).message)}\n`);
  process.exit(2);
}
