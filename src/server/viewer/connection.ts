// The WebSocket to Vigil: reconnects by itself, keeps the server clock offset (ping/pong) and
// subscribes to exactly the streams the page can show (nothing is sent for hidden video).
import type { FrameHeader, ServerMessage, StyleChoice } from './protocol.js';

export type ConnState = 'connecting' | 'open' | 'closed';

export interface ConnectionEvents {
  onState(state: ConnState): void;
  /** The socket closed without ever opening (server down, or the upgrade refused, e.g. 401). */
  onRefused?(): void;
  onMessage(m: ServerMessage): void;
  onFrame(header: FrameHeader, jpeg: Uint8Array<ArrayBuffer>): void;
}

const PING_MS = 10_000;
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 5_000;

export class Connection {
  state: ConnState = 'connecting';
  /** Server clock minus page clock, ms (from the ping with the shortest round trip). */
  clockOffset = 0;
  /** Round trip of that ping, ms. */
  rttMs = Number.NaN;
  /** Streams this socket is subscribed to now. */
  readonly subscribed = new Set<string>();
  private wanted = new Set<string>();
  /** Style chosen per stream (pipelines with a style stage); sent with each subscription. */
  private readonly styles = new Map<string, StyleChoice>();
  private ws: WebSocket | undefined;
  private retryMs = RETRY_MIN_MS;
  private pings: Array<{ rtt: number; offset: number }> = [];
  private readonly decoder = new TextDecoder();

  private retryTimer: number | undefined;
  private pinger: number | undefined;

  constructor(
    /** The WebSocket URL, asked for at each attempt (the token may have changed). */
    private readonly url: () => string,
    private readonly ev: ConnectionEvents,
  ) {}

  connect(): void {
    window.clearTimeout(this.retryTimer);
    const sock = new WebSocket(this.url());
    let opened = false;
    sock.binaryType = 'arraybuffer';
    this.ws = sock;
    this.setState('connecting');
    sock.onopen = () => {
      opened = true;
      this.retryMs = RETRY_MIN_MS;
      this.subscribed.clear();
      this.pings = [];
      this.setState('open');
      // A few quick pings for a good offset at once, then one every 10 s.
      for (const ms of [0, 300, 900]) window.setTimeout(() => this.ping(), ms);
      window.clearInterval(this.pinger);
      this.pinger = window.setInterval(() => this.ping(), PING_MS);
      this.sync();
    };
    sock.onmessage = (ev) => {
      if (this.ws !== sock) return;
      if (ev.data instanceof ArrayBuffer) return this.onBinary(ev.data);
      let m: ServerMessage;
      try {
        m = JSON.parse(ev.data as string) as ServerMessage;
      } catch {
        return;
      }
      if (m.type === 'pong') this.onPong(m.t, m.serverTs);
      else if (m.type === 'hello' && !this.pings.length) this.clockOffset = m.serverTs - Date.now();
      else if (m.type === 'error') console.warn(`vigil: ${m.message}`);
      this.ev.onMessage(m);
    };
    sock.onclose = () => {
      if (this.ws !== sock) return;
      window.clearInterval(this.pinger);
      this.subscribed.clear();
      this.setState('closed');
      // The server restarted or the network dropped: reconnect with capped backoff (±20% jitter).
      const delay = this.retryMs * (0.8 + Math.random() * 0.4);
      this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
      this.retryTimer = window.setTimeout(() => this.connect(), delay);
      if (!opened) this.ev.onRefused?.();
    };
  }

  /** Drops the socket and connects again at once (a new token). */
  reconnect(): void {
    const old = this.ws;
    this.ws = undefined; // its close event is ignored
    old?.close();
    window.clearInterval(this.pinger);
    this.subscribed.clear();
    this.retryMs = RETRY_MIN_MS;
    this.connect();
  }

  /** Subscribes to these streams only (subscribe/unsubscribe for the difference). */
  want(streams: Iterable<string>): void {
    this.wanted = new Set(streams);
    this.sync();
  }

  /** Chooses a stream's style (null: the original video) and strength; applied at once when subscribed. */
  setStyle(stream: string, choice: StyleChoice): void {
    this.styles.set(stream, choice);
    if (this.subscribed.has(stream)) this.send({ type: 'subscribe', streams: [stream], ...choice });
  }

  styleOf(stream: string): StyleChoice | undefined {
    return this.styles.get(stream);
  }

  send(m: object): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(m));
  }

  private sync(): void {
    if (this.ws?.readyState !== WebSocket.OPEN) return;
    const add = [...this.wanted].filter((s) => !this.subscribed.has(s));
    const drop = [...this.subscribed].filter((s) => !this.wanted.has(s));
    const plain = add.filter((s) => !this.styles.has(s));
    if (plain.length) this.send({ type: 'subscribe', streams: plain });
    for (const s of add.filter((x) => this.styles.has(x)))
      this.send({ type: 'subscribe', streams: [s], ...this.styles.get(s) });
    if (drop.length) this.send({ type: 'unsubscribe', streams: drop });
    for (const s of add) this.subscribed.add(s);
    for (const s of drop) this.subscribed.delete(s);
  }

  private ping(): void {
    this.send({ type: 'ping', t: Date.now() });
  }

  private onPong(t: number, serverTs: number): void {
    const now = Date.now();
    this.pings.push({ rtt: now - t, offset: serverTs - (t + now) / 2 });
    if (this.pings.length > 8) this.pings.shift();
    const best = this.pings.reduce((a, b) => (b.rtt < a.rtt ? b : a));
    this.clockOffset = best.offset;
    this.rttMs = best.rtt;
  }

  private onBinary(buf: ArrayBuffer): void {
    const len = new DataView(buf).getUint32(0, true);
    const header = JSON.parse(this.decoder.decode(new Uint8Array(buf, 4, len))) as FrameHeader;
    // Frames still in flight for a stream just unsubscribed are dropped, not decoded.
    if (!this.subscribed.has(header.stream)) return;
    this.ev.onFrame(header, new Uint8Array(buf, 4 + len));
  }

  private setState(s: ConnState): void {
    this.state = s;
    this.ev.onState(s);
  }
}
