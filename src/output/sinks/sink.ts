/**
 * Alert sinks: where an alert goes once it is stored (viewers over WebSocket, webhooks, MQTT). One
 * contract so the alert stage, and a cluster consumer that reads alerts from elsewhere, feed every
 * sink the same way; one fan-out that hands each alert to every sink and returns at once, so a slow
 * or absent receiver never holds up the pipeline (each sink queues and retries by its own policy).
 */
import type { FaceAlert } from '../../faces/alerts.js';

/** What became of one alert at one sink (`vigil_alert_deliveries_total{sink,result}`). */
export const DELIVERY_RESULTS = ['delivered', 'retried', 'failed', 'dropped'] as const;
export type DeliveryResult = (typeof DELIVERY_RESULTS)[number];

/** Counts the outcomes of a sink's deliveries (the metric, or a test's tally). */
export type DeliveryCounter = (sink: string, result: DeliveryResult) => void;

export interface AlertSink {
  /** Short and fixed (`webhook`, `websocket`, `mqtt`): the metric's `sink` label. */
  readonly name: string;
  /**
   * Takes an alert (and its face snapshot, JPEG) for delivery. Must return promptly: a sink that
   * waits on the network does it after returning, in its own queue.
   */
  deliver(alert: FaceAlert, snapshot?: Buffer): void;
  /** Stops delivering; what is still queued is counted as dropped. */
  close(): Promise<void>;
}

/** The minimal logger the sinks write to (pino's shape). */
export interface SinkLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Hands every alert to every sink; a sink that throws is logged and the others still get it. */
export class AlertFanOut {
  constructor(
    readonly sinks: readonly AlertSink[],
    private readonly log: SinkLog,
  ) {}

  publish(alert: FaceAlert, snapshot?: Buffer): void {
    for (const sink of this.sinks) {
      try {
        sink.deliver(alert, snapshot);
      } catch (e) {
        this.log.warn({ sink: sink.name, alert: alert.id, err: (e as Error).message }, 'alert sink failed');
      }
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.sinks.map((s) => s.close()));
  }
}
