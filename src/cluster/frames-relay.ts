/**
 * Live frames across nodes (docs/cluster.md, "One UI"): a viewer on node B watching a camera that
 * node A runs gets A's frames over NATS, injected into B's hub as if they were B's own.
 *   - B, while one of its WebSockets watches a camera it does not hold, subscribes to
 *     `vigil.frames.<camera>` and says `vigil.watch.<camera>` {watching: true} every `watchEveryMs`,
 *     and {watching: false} as soon as its last viewer of it leaves;
 *   - A, holder of the camera, has a tap on its hub (ws-hub.ts FrameTap) that wants the camera's
 *     original frames while any other node's watch is fresh (within `freshMs`), so its chain encodes
 *     them even with no local viewer, and publishes each on `vigil.frames.<camera>`.
 * Nobody watching: nothing is published. A frame is the viewers' own layout (4-byte LE length,
 * JSON, JPEG) with the JSON `{node, header}` (RelayedFrameMeta), the header checked on arrival.
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { RelayedFrameMeta, WatchMessage } from '../defs/cluster.js';
import { FrameHeader } from '../defs/ws.js';
import type { Logger } from '../log.js';
import type { WsHub } from '../output/ws-hub.js';

export const framesSubject = (camera: string) => `vigil.frames.${camera}`;
export const watchSubject = (camera: string) => `vigil.watch.${camera}`;

export interface FramesRelayOptions {
  node: string;
  /** True while this node runs the camera (its lease). */
  holds: (camera: string) => boolean;
  /** The cluster's cameras (the ones viewers may subscribe to). */
  cameras: () => readonly string[];
  log: Logger;
  /** How often a watching node repeats its watch (default 2 s). */
  watchEveryMs?: number;
  /** A watch not repeated for this long is stale (default 2.5 watches). */
  freshMs?: number;
  /** How often this node looks at what its viewers watch (default 200 ms). */
  checkEveryMs?: number;
}

export function encodeRelayedFrame(meta: RelayedFrameMeta, jpeg: Buffer): Buffer {
  const json = Buffer.from(JSON.stringify(meta));
  const msg = Buffer.allocUnsafe(4 + json.length + jpeg.length);
  msg.writeUInt32LE(json.length, 0);
  json.copy(msg, 4);
  jpeg.copy(msg, 4 + json.length);
  return msg;
}

export function decodeRelayedFrame(
  data: Uint8Array,
): { node: string; header: FrameHeader; jpeg: Buffer } | string {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (buf.length < 4) return 'shorter than its length prefix';
  const len = buf.readUInt32LE(0);
  if (4 + len > buf.length) return 'length prefix beyond the message';
  let raw: unknown;
  try {
    raw = JSON.parse(buf.subarray(4, 4 + len).toString('utf8'));
  } catch {
    return 'header is not JSON';
  }
  const meta = RelayedFrameMeta.safeParse(raw);
  if (!meta.success) return `bad meta: ${meta.error.issues[0]?.message}`;
  const header = FrameHeader.safeParse(meta.data.header);
  if (!header.success) return `bad frame header: ${header.error.issues[0]?.path.join('.')}`;
  return { node: meta.data.node, header: header.data, jpeg: buf.subarray(4 + len) };
}

interface Watching {
  sub: Subscription;
  /** When the watch was last said. */
  saidAt: number;
}

export class FramesRelay {
  /** camera -> other node -> when its last watch arrived (this node as the holder). */
  private readonly watchers = new Map<string, Map<string, number>>();
  /** Cameras held elsewhere that this node's viewers watch (this node as the viewer's node). */
  private readonly watching = new Map<string, Watching>();
  private readonly subs: Subscription[] = [];
  private removeTap: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private warned = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly hub: WsHub,
    private readonly opts: FramesRelayOptions,
  ) {}

  private get watchEveryMs(): number {
    return this.opts.watchEveryMs ?? 2000;
  }

  start(): void {
    this.subs.push(this.nc.subscribe(watchSubject('*'), { callback: (_e, m) => this.onWatch(m.data) }));
    this.removeTap = this.hub.addTap({
      wants: (camera) => this.opts.holds(camera) && this.watchedElsewhere(camera),
      frame: (header, jpeg) => this.publishFrame(header, jpeg),
    });
    this.timer = setInterval(() => this.check(), this.opts.checkEveryMs ?? 200);
  }

  /** Whether another node's watch of `camera` is fresh (stale ones are forgotten). */
  watchedElsewhere(camera: string): boolean {
    const by = this.watchers.get(camera);
    if (!by) return false;
    const fresh = this.opts.freshMs ?? this.watchEveryMs * 2.5;
    const now = Date.now();
    for (const [node, at] of by) if (now - at > fresh) by.delete(node);
    if (!by.size) this.watchers.delete(camera);
    return by.size > 0;
  }

  private onWatch(data: Uint8Array): void {
    let raw: unknown;
    try {
      raw = JSON.parse(Buffer.from(data).toString('utf8'));
    } catch {
      return;
    }
    const w = WatchMessage.safeParse(raw);
    if (!w.success || w.data.node === this.opts.node) return;
    const { camera, node, watching } = w.data;
    const by = this.watchers.get(camera) ?? new Map<string, number>();
    if (watching) by.set(node, Date.now());
    else by.delete(node);
    if (by.size) this.watchers.set(camera, by);
    else this.watchers.delete(camera);
  }

  private publishFrame(header: FrameHeader, jpeg: Buffer): void {
    try {
      this.nc.publish(
        framesSubject(header.stream),
        encodeRelayedFrame({ node: this.opts.node, header }, jpeg),
      );
    } catch (e) {
      // too large for the server's max_payload, or the connection closing: say it once
      if (!this.warned)
        this.opts.log.warn(
          { camera: header.stream, err: (e as Error).message },
          'cannot relay a frame over NATS',
        );
      this.warned = true;
    }
  }

  /** Starts, repeats or ends this node's watches to match what its viewers watch now. */
  private check(): void {
    const now = Date.now();
    for (const camera of this.opts.cameras()) {
      const wanted = this.hub.hasViewers(camera) && !this.opts.holds(camera);
      const w = this.watching.get(camera);
      if (wanted && !w) {
        const sub = this.nc.subscribe(framesSubject(camera), { callback: (_e, m) => this.onFrame(m.data) });
        this.watching.set(camera, { sub, saidAt: now });
        this.say(camera, true);
      } else if (wanted && w && now - w.saidAt >= this.watchEveryMs) {
        w.saidAt = now;
        this.say(camera, true);
      } else if (!wanted && w) this.unwatch(camera, w);
    }
  }

  private unwatch(camera: string, w: Watching): void {
    this.watching.delete(camera);
    w.sub.unsubscribe();
    this.say(camera, false);
  }

  private say(camera: string, watching: boolean): void {
    const msg = WatchMessage.parse({ node: this.opts.node, camera, watching });
    try {
      this.nc.publish(watchSubject(camera), JSON.stringify(msg));
    } catch {
      // closing: the holder's copy goes stale by itself
    }
  }

  private onFrame(data: Uint8Array): void {
    const f = decodeRelayedFrame(data);
    if (typeof f === 'string') return void this.opts.log.debug({ err: f }, 'relayed frame refused');
    // a frame of a camera this node runs now (a lease just moved here) comes from its own chain
    if (this.opts.holds(f.header.stream)) return;
    this.hub.publish({ ...f.header, sentTs: Date.now() }, f.jpeg);
  }

  stop(): void {
    clearInterval(this.timer);
    for (const [camera, w] of [...this.watching]) this.unwatch(camera, w);
    for (const s of this.subs) s.unsubscribe();
    this.subs.length = 0;
    this.removeTap?.();
    this.watchers.clear();
  }
}
