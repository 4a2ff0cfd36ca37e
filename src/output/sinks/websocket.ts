/**
 * WebSocket sink: each alert goes to the pages connected now (the alerts panel); a page that
 * connects later reads the history from /api/alerts, so nothing is queued or retried here.
 */
import type { FaceAlert } from '../../faces/alerts.js';
import type { WsHub } from '../ws-hub.js';
import type { AlertSink, DeliveryCounter } from './sink.js';

export class WebSocketSink implements AlertSink {
  readonly name = 'websocket';
  constructor(
    private readonly hub: Pick<WsHub, 'broadcast'>,
    private readonly count: DeliveryCounter,
  ) {}

  deliver(alert: FaceAlert): void {
    this.hub.broadcast({ type: 'alert', alert });
    this.count(this.name, 'delivered');
  }

  async close(): Promise<void> {}
}
