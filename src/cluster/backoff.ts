/**
 * Capped exponential backoff for reaching NATS and PostgreSQL: a node started before its broker or
 * database (compose, Kubernetes) waits for them, logging each failure with the URL (credentials
 * hidden) and the next delay, instead of crashing or hanging silently.
 */
import { redactUrlsIn } from '../util/redact-url.js';

export interface Backoff {
  initialMs: number;
  maxMs: number;
}

/** Delay before attempt `n` (0-based retry count): initial * 2^n, capped, with +-20 % jitter. */
export function backoffDelay(policy: Backoff, retry: number, random = Math.random): number {
  const base = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(retry, 30));
  return Math.round(base * (0.8 + 0.4 * random()));
}

export class Stopped extends Error {
  constructor(what: string) {
    super(`${what}: stopped while connecting`);
    this.name = 'Stopped';
  }
}

/**
 * Runs `attempt` until it resolves, waiting the backoff between failures; `onFailure` gets a line
 * naming `what` and `url` (redacted) and the error. Rejects with Stopped once `signal` aborts.
 */
export async function withBackoff<T>(
  what: string,
  url: string,
  policy: Backoff,
  attempt: () => Promise<T>,
  onFailure: (message: string, retry: number, delayMs: number) => void,
  signal?: AbortSignal,
): Promise<T> {
  for (let retry = 0; ; retry++) {
    if (signal?.aborted) throw new Stopped(what);
    try {
      return await attempt();
    } catch (e) {
      if (signal?.aborted) throw new Stopped(what);
      const delay = backoffDelay(policy, retry);
      const reason = (e as Error).message || String(e);
      onFailure(
        redactUrlsIn(`cannot reach ${what} at ${url} (retrying in ${delay} ms) - ${reason}`),
        retry,
        delay,
      );
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, delay);
        const abort = () => {
          clearTimeout(t);
          resolve();
        };
        signal?.addEventListener('abort', abort, { once: true });
      });
    }
  }
}
