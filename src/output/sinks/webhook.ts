/**
 * Webhook sink: every alert POSTed as JSON to each configured URL, retried with a doubling delay on
 * network errors, 5xx and 429 (a 4xx refusal is final). Alerts being posted at once are bounded per
 * webhook; past the bound a new alert is dropped and counted, so a dead receiver cannot pile up work.
 */
import type { FaceAlert } from '../../faces/alerts.js';
import { redactUrl } from '../../util/redact-url.js';
import type { WebhookRetrySchema, Webhook, WebhookSinkConfig } from './config.js';
import type { AlertSink, DeliveryCounter, DeliveryResult, SinkLog } from './sink.js';
import type { z } from 'zod';

export interface PostOptions {
  tries?: number;
  baseDelayMs?: number;
  timeoutMs?: number;
  log?: (m: string) => void;
  /** Called before each retry (the metric's `retried`). */
  onRetry?: () => void;
}

/** POSTs an alert as JSON, retrying with backoff (1 s, 2 s, 4 s) on network errors and 5xx. */
export async function postWebhook(hook: Webhook, alert: FaceAlert, opts: PostOptions = {}): Promise<boolean> {
  const tries = opts.tries ?? 4;
  const shown = redactUrl(hook.url);
  // Frigate consumers read type + after; the flat fields serve simple consumers.
  const body = JSON.stringify({ ...alert, type: 'new', kind: alert.type, after: alert });
  for (let i = 0; i < tries; i++) {
    try {
      const res = await fetch(hook.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...hook.headers },
        body,
        signal: AbortSignal.timeout(opts.timeoutMs ?? 5000),
      });
      if (res.ok) return true;
      if (res.status < 500 && res.status !== 429) {
        opts.log?.(`webhook ${shown} refused alert ${alert.id}: HTTP ${res.status}`);
        return false;
      }
      opts.log?.(`webhook ${shown}: HTTP ${res.status}, try ${i + 1}/${tries}`);
    } catch (e) {
      opts.log?.(`webhook ${shown}: ${(e as Error).message}, try ${i + 1}/${tries}`);
    }
    if (i < tries - 1) {
      opts.onRetry?.();
      await new Promise((r) => setTimeout(r, (opts.baseDelayMs ?? 1000) * 2 ** i));
    }
  }
  return false;
}

type Retry = z.output<typeof WebhookRetrySchema>;

/** One sink for all configured webhooks (label `webhook`: URLs may hold secrets, so never a label). */
export class WebhookSink implements AlertSink {
  readonly name = 'webhook';
  private readonly pending = new Map<WebhookSinkConfig, number>();
  private closed = false;

  constructor(
    private readonly hooks: readonly WebhookSinkConfig[],
    private readonly count: DeliveryCounter,
    private readonly log: SinkLog,
  ) {}

  deliver(alert: FaceAlert): void {
    if (this.closed) return;
    for (const hook of this.hooks) {
      const busy = this.pending.get(hook) ?? 0;
      if (busy >= hook.retry.maxPending) {
        this.count(this.name, 'dropped');
        continue;
      }
      this.pending.set(hook, busy + 1);
      void this.post(hook, hook.retry, alert).then((result) => {
        this.pending.set(hook, (this.pending.get(hook) ?? 1) - 1);
        this.count(this.name, result);
      });
    }
  }

  private async post(hook: WebhookSinkConfig, retry: Retry, alert: FaceAlert): Promise<DeliveryResult> {
    const ok = await postWebhook(hook, alert, {
      tries: retry.tries,
      baseDelayMs: retry.baseDelayMs,
      timeoutMs: retry.timeoutMs,
      log: (m) => this.log.warn({ alert: alert.id }, m),
      onRetry: () => this.count(this.name, 'retried'),
    });
    return ok ? 'delivered' : 'failed';
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
