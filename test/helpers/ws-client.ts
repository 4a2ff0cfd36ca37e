import WebSocket from 'ws';
import type { FrameHeader } from '../../src/output/ws-hub.js';

export interface ReceivedFrame {
  header: FrameHeader;
  jpeg: Buffer;
  receivedAt: number;
}

/** A WebSocket viewer for tests: subscribes, splits binary messages into header + JPEG. */
export class TestViewer {
  readonly frames: ReceivedFrame[] = [];
  readonly events: Array<Record<string, unknown>> = [];
  /** Frames received in all (`frames` keeps the last 500). */
  received = 0;
  /** Called for every frame as it arrives. */
  onFrame?: (f: ReceivedFrame) => void;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) {
        this.events.push(JSON.parse(data.toString()) as Record<string, unknown>);
        return;
      }
      const len = data.readUInt32LE(0);
      const header = JSON.parse(data.subarray(4, 4 + len).toString()) as FrameHeader;
      this.received++;
      const f = { header, jpeg: Buffer.from(data.subarray(4 + len)), receivedAt: Date.now() };
      this.frames.push(f);
      this.onFrame?.(f);
      if (this.frames.length > 500) this.frames.shift();
    });
  }

  static async connect(url: string, streams: string[] | '*' = '*'): Promise<TestViewer> {
    const ws = new WebSocket(url);
    const v = new TestViewer(ws); // listening before 'open': the server's hello may come with it
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.send(JSON.stringify({ type: 'subscribe', streams }));
    return v;
  }

  /** Stops reading from the socket: the server sees a client that never reads. */
  pauseReading(): void {
    (this.ws as unknown as { _socket: import('node:net').Socket })._socket.pause();
  }

  resumeReading(): void {
    (this.ws as unknown as { _socket: import('node:net').Socket })._socket.resume();
  }

  async waitFor(pred: (v: TestViewer) => boolean, ms: number, what: string): Promise<void> {
    const end = Date.now() + ms;
    while (!pred(this)) {
      if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  close(): void {
    this.ws.terminate();
  }
}

/** Parses Prometheus text into { 'name{labels}': value }. */
export function parseMetrics(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    m.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return m;
}

/** Sum of every sample of `name` whose labels include all of `labels`. */
export function metricSum(m: Map<string, number>, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const [k, v] of m) {
    const base = k.includes('{') ? k.slice(0, k.indexOf('{')) : k;
    if (base !== name) continue;
    if (Object.entries(labels).every(([l, val]) => k.includes(`${l}="${val}"`))) sum += v;
  }
  return sum;
}
