import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import {
  type BroadcastMessage,
  BroadcastMessage as BroadcastSchema,
  ClientMessage,
  type FrameHeader,
  type HelloInfo,
  type ReplyMessage,
  type StreamStatus,
  type StyleChoice,
} from '../defs/ws.js';
import type { VigilMetrics } from '../metrics/metrics.js';

export type { FrameHeader, StyleChoice } from '../defs/ws.js';

/** One rendering of a stream that at least one viewer wants. */
export interface Variant extends StyleChoice {
  key: string;
}

/** Where encoded frames go: what the encode and style stages need of the hub. */
export interface FramePublisher {
  hasSubscribers(stream: string): boolean;
  /** Renderings wanted for a stream (absent: the original video only). */
  variants?(stream: string): Variant[];
  publish(header: FrameHeader, jpeg: Buffer, variant?: string): number;
}

export const PLAIN: Variant = { key: 'plain', style: null, strength: 1 };

/**
 * A watcher that is not a WebSocket of this hub (cluster mode: viewers on other nodes, fed over
 * NATS by src/cluster/frames-relay.ts). It wants the original video of the streams it says.
 */
export interface FrameTap {
  wants(stream: string): boolean;
  frame(header: FrameHeader, jpeg: Buffer): void;
}

export function variantKey(c: StyleChoice): string {
  return c.style === null || c.strength <= 0 ? 'plain' : `${c.style}@${c.strength.toFixed(2)}`;
}

interface Client {
  ws: WebSocket;
  all: boolean;
  streams: Set<string>;
  /** Per-stream style choices; `allChoice` for streams without their own. */
  choice: Map<string, StyleChoice>;
  allChoice?: StyleChoice;
}

/**
 * WebSocket fan-out. Frames go as one binary message each: 4-byte little-endian header length, the
 * JSON header, then the JPEG. A client whose socket has more than `maxBufferedBytes` unsent skips
 * frames (counted as client_slow) and gets the newest one once it has caught up.
 */
/** The largest message a viewer may send (subscriptions and style choices are small JSON). */
export const WS_MAX_PAYLOAD = 64 * 1024;

export class WsHub {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: WS_MAX_PAYLOAD });
  private readonly clients = new Set<Client>();
  private readonly taps = new Set<FrameTap>();
  private statusView: ((s: StreamStatus) => StreamStatus) | undefined;

  constructor(
    private readonly opts: {
      maxBufferedBytes: number;
      metrics: VigilMetrics;
      knownStreams: () => string[];
      hello: () => HelloInfo;
      /** Styles viewers may pick (pipelines with a style stage); absent: styles are refused. */
      styles?: () => string[];
      /** The choice of a viewer who has not picked one. */
      defaultStyle?: StyleChoice;
    },
  ) {
    this.wss.on('connection', (ws) => this.onConnection(ws));
  }

  /** Call from a node:http server's 'upgrade' event (the hub on its own, as in its tests). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => this.wss.emit('connection', ws, req));
  }

  /** A viewer's socket that the HTTP server upgraded (src/server/http.ts, with WS_MAX_PAYLOAD). */
  accept(ws: WebSocket): void {
    this.onConnection(ws);
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** Unsent bytes per client (each stays near maxBufferedBytes at most). */
  bufferedAmounts(): number[] {
    return [...this.clients].map((c) => c.ws.bufferedAmount);
  }

  hasSubscribers(stream: string): boolean {
    return this.hasViewers(stream) || this.tapped(stream);
  }

  /** Whether one of this hub's own WebSockets watches `stream` (taps not counted). */
  hasViewers(stream: string): boolean {
    for (const c of this.clients) if (c.all || c.streams.has(stream)) return true;
    return false;
  }

  /** Adds a watcher of original frames beyond this hub's sockets; returns its removal. */
  addTap(tap: FrameTap): () => void {
    this.taps.add(tap);
    return () => this.taps.delete(tap);
  }

  /**
   * Rewrites every stream status viewers get (hello and broadcasts): cluster mode says which node
   * runs each camera, and `remote` instead of this node's stopped source. Returns its removal.
   */
  setStatusView(view: (s: StreamStatus) => StreamStatus): () => void {
    this.statusView = view;
    return () => {
      if (this.statusView === view) this.statusView = undefined;
    };
  }

  private tapped(stream: string): boolean {
    for (const t of this.taps) if (t.wants(stream)) return true;
    return false;
  }

  private choiceOf(c: Client, stream: string): StyleChoice {
    return c.choice.get(stream) ?? c.allChoice ?? this.opts.defaultStyle ?? PLAIN;
  }

  /** The renderings of `stream` its subscribers want (one per distinct style and strength). */
  variants(stream: string): Variant[] {
    const out = new Map<string, Variant>();
    for (const c of this.clients) {
      if (!(c.all || c.streams.has(stream))) continue;
      const ch = this.choiceOf(c, stream);
      const key = variantKey(ch);
      if (!out.has(key)) out.set(key, key === 'plain' ? PLAIN : { key, ...ch });
    }
    if (!out.has('plain') && this.tapped(stream)) out.set('plain', PLAIN);
    return [...out.values()];
  }

  /**
   * Sends a JPEG with its header to every subscriber that keeps up and wants this rendering
   * (`variant`, default the original video); returns how many got it.
   */
  publish(header: FrameHeader, jpeg: Buffer, variant = 'plain'): number {
    let tapped = 0;
    if (variant === 'plain')
      for (const t of this.taps)
        if (t.wants(header.stream)) {
          t.frame(header, jpeg);
          tapped++;
        }
    return tapped + this.send(header, jpeg, variant);
  }

  private send(header: FrameHeader, jpeg: Buffer, variant: string): number {
    const json = Buffer.from(JSON.stringify(header));
    const msg = Buffer.allocUnsafe(4 + json.length + jpeg.length);
    msg.writeUInt32LE(json.length, 0);
    json.copy(msg, 4);
    jpeg.copy(msg, 4 + json.length);
    let sent = 0;
    for (const c of this.clients) {
      if (!(c.all || c.streams.has(header.stream)) || c.ws.readyState !== WebSocket.OPEN) continue;
      if (variantKey(this.choiceOf(c, header.stream)) !== variant) continue;
      if (c.ws.bufferedAmount > this.opts.maxBufferedBytes) {
        this.opts.metrics.drop(header.stream, 'client_slow');
        continue;
      }
      c.ws.send(msg, { binary: true });
      sent++;
    }
    if (sent) this.opts.metrics.wsBytesSent.inc(msg.length * sent);
    return sent;
  }

  /**
   * An event to every client (stream states, rates, alerts, gallery changes). Checked against the
   * boundary's schema: broadcasts are rare, and a malformed one would break every viewer.
   */
  broadcast(event: BroadcastMessage): void {
    const view = this.statusView;
    if (event.type === 'status' && view) event = { ...event, status: view(event.status) };
    const text = JSON.stringify(BroadcastSchema.parse(event));
    for (const c of this.clients) if (c.ws.readyState === WebSocket.OPEN) c.ws.send(text);
  }

  close(): void {
    for (const c of this.clients) c.ws.terminate();
    this.clients.clear();
    this.taps.clear();
    this.wss.close();
    this.opts.metrics.wsClients.set(0);
  }

  private onConnection(ws: WebSocket): void {
    const client: Client = { ws, all: false, streams: new Set(), choice: new Map() };
    this.clients.add(client);
    this.opts.metrics.wsClients.set(this.clients.size);
    ws.on('message', (data: RawData, isBinary: boolean) => this.onMessage(client, data, isBinary));
    ws.on('close', () => {
      this.clients.delete(client);
      this.opts.metrics.wsClients.set(this.clients.size);
    });
    ws.on('error', () => ws.terminate());
    const info = this.opts.hello();
    const view = this.statusView;
    const hello: ReplyMessage = {
      type: 'hello',
      serverTs: Date.now(),
      ...info,
      streams: view ? info.streams.map(view) : info.streams,
    };
    ws.send(JSON.stringify(hello));
  }

  private onMessage(c: Client, data: RawData, isBinary: boolean): void {
    const reply = (m: ReplyMessage) => c.ws.readyState === WebSocket.OPEN && c.ws.send(JSON.stringify(m));
    if (isBinary)
      return void reply({ type: 'error', message: 'binary messages are not accepted; send JSON text' });
    let raw: unknown;
    try {
      raw = JSON.parse(data.toString());
    } catch {
      return void reply({ type: 'error', message: 'message is not valid JSON' });
    }
    const parsed = ClientMessage.safeParse(raw);
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      return void reply({
        type: 'error',
        message: `invalid message: ${i?.path.join('.') || 'type'}: ${i?.message}`,
      });
    }
    const m = parsed.data;
    if (m.type === 'subscribe' || m.type === 'unsubscribe') this.onSubscription(c, m, reply);
    else if (m.type === 'ping') reply({ type: 'pong', t: m.t, serverTs: Date.now() });
    else if (m.type === 'displayed' && this.opts.knownStreams().includes(m.stream))
      this.opts.metrics.captureToDisplay.observe({ stream: m.stream }, m.latencyMs / 1000);
  }

  /** The style a subscribe asks for, or an error message naming what is wrong. */
  private styleChoice(m: Extract<ClientMessage, { type: 'subscribe' }>): StyleChoice | string | undefined {
    if (m.style === undefined && m.strength === undefined) return undefined;
    const styles = this.opts.styles?.();
    const base = this.opts.defaultStyle ?? PLAIN;
    const style = m.style === undefined ? base.style : m.style;
    if (style !== null && !styles) return 'this pipeline has no style stage: styles are not available';
    if (style !== null && styles && !styles.includes(style))
      return `unknown style "${style}" (available: ${styles.join(', ') || 'none'})`;
    return { style, strength: m.strength ?? base.strength };
  }

  private onSubscription(
    c: Client,
    m: Extract<ClientMessage, { type: 'subscribe' | 'unsubscribe' }>,
    reply: (m: ReplyMessage) => void,
  ): void {
    const subscribe = m.type === 'subscribe';
    const choice = subscribe ? this.styleChoice(m) : undefined;
    if (typeof choice === 'string') return void reply({ type: 'error', message: choice });
    if (m.streams === '*') {
      c.all = subscribe;
      if (choice) {
        c.allChoice = choice;
        c.choice.clear();
      }
    } else {
      const known = new Set(this.opts.knownStreams());
      const unknown = m.streams.filter((s) => !known.has(s));
      if (unknown.length) reply({ type: 'error', message: `unknown stream(s): ${unknown.join(', ')}` });
      for (const s of m.streams.filter((x) => known.has(x))) {
        if (subscribe) {
          c.streams.add(s);
          if (choice) c.choice.set(s, choice);
        } else {
          c.streams.delete(s);
          c.choice.delete(s);
        }
      }
    }
    reply({
      type: 'subscribed',
      streams: c.all ? '*' : [...c.streams],
      ...(choice ? { style: choice.style, strength: choice.strength } : {}),
    });
  }
}
