import { Writable } from 'node:stream';
import { pino } from 'pino';

/** A pino logger whose JSON lines are kept, parsed, in `lines`. */
export function capturingLogger(level = 'info') {
  const lines: Array<Record<string, unknown> & { msg: string }> = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { logger: pino({ level }, sink), lines };
}
