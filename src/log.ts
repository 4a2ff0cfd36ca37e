import { pino } from 'pino';

export type Logger = pino.Logger;

/** JSON logs on stdout (pipe through pino-pretty to read them in a terminal). */
export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'vigil' } });
}
