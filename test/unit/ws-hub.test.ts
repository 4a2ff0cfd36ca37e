/**
 * The WebSocket hub alone (a real ws server on loopback, no pipeline): subscriptions, style
 * choices and their errors, frame fan-out by rendering, and every message the server sends parsed
 * with the boundary's one schema (src/defs/ws.ts).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { type FrameHeader, FrameHeader as FrameHeaderSchema, ServerMessage } from '../../src/defs/ws.js';
import { VigilMetrics } from '../../src/metrics/metrics.js';
import { WsHub } from '../../src/output/ws-hub.js';

interface Harness {
  hub: WsHub;
  server: Server;
  url: string;
  metrics: VigilMetrics;
}

const open: Harness[] = [];

async function startHub(styles?: string[]): Promise<Harness> {
  const metrics = new VigilMetrics({ defaultMetrics: false });
  const hub = new WsHub({
    maxBufferedBytes: 1 << 20,
    metrics,
    knownStreams: () => ['a', 'b'],
    hello: () => ({
      pipeline: 'test',
      recognition: false,
      streams: [{ id: 'a', state: 'live', since: 1, attempts: 0, framesDecoded: 3 }],
    }),
    ...(styles ? { styles: () => styles, defaultStyle: { style: null, strength: 1 } } : {}),
  });
  const server = createServer();
  server.on('upgrade', (req, socket, head) => hub.handleUpgrade(req, socket, head));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const h = { hub, server, metrics, url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws` };
  open.push(h);
  return h;
}

afterEach(async () => {
  for (const h of open.splice(0)) {
    h.hub.close();
    await new Promise((r) => h.server.close(r));
  }
});

/** A client that parses every text message with ServerMessage and every binary one as a frame. */
async function client(url: string) {
  const ws = new WebSocket(url);
  const texts: ServerMessage[] = [];
  const frames: Array<{ header: FrameHeader; jpeg: Buffer }> = [];
  ws.on('message', (data: Buffer, binary: boolean) => {
    if (!binary) return void texts.push(ServerMessage.parse(JSON.parse(data.toString())));
    const n = data.readUInt32LE(0);
    const header = FrameHeaderSchema.parse(JSON.parse(data.subarray(4, 4 + n).toString()));
    frames.push({ header, jpeg: data.subarray(4 + n) });
  });
  await new Promise((r, j) => ws.once('open', r).once('error', j));
  const next = async (type: ServerMessage['type']) => {
    for (let i = 0; i < 200; i++) {
      const k = texts.findIndex((m) => m.type === type);
      if (k >= 0) return texts.splice(k, 1)[0] as ServerMessage;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`no ${type} message`);
  };
  return { ws, texts, frames, next, send: (m: unknown) => ws.send(JSON.stringify(m)) };
}

function header(stream: string, seq: number): FrameHeader {
  return {
    type: 'frame',
    stream,
    seq,
    captureTs: 1,
    sentTs: 2,
    width: 4,
    height: 4,
    detections: [{ box: [0, 0, 2, 2], score: 0.9, label: 'unknown', trackId: 1 }],
    detectionSeq: seq,
    annotated: false,
  };
}

describe('WsHub alone', () => {
  it('greets with a hello that parses, and sends frames only to subscribers of the stream', async () => {
    const h = await startHub();
    const c = await client(h.url);
    const hello = await c.next('hello');
    expect(hello).toMatchObject({ type: 'hello', pipeline: 'test', streams: [{ id: 'a', state: 'live' }] });
    c.send({ type: 'subscribe', streams: ['a'] });
    expect(await c.next('subscribed')).toEqual({ type: 'subscribed', streams: ['a'] });
    expect(h.hub.hasSubscribers('a')).toBe(true);
    expect(h.hub.hasSubscribers('b')).toBe(false);
    expect(h.hub.publish(header('b', 1), Buffer.from('jpeg-b'))).toBe(0);
    expect(h.hub.publish(header('a', 2), Buffer.from('jpeg-a'))).toBe(1);
    await expect.poll(() => c.frames.length).toBe(1);
    expect(c.frames[0]?.header.seq).toBe(2);
    expect(c.frames[0]?.jpeg.toString()).toBe('jpeg-a');
    c.send({ type: 'unsubscribe', streams: '*' });
    await c.next('subscribed');
    expect(h.hub.hasSubscribers('a')).toBe(true); // '*' off does not drop the named stream
    c.send({ type: 'unsubscribe', streams: ['a'] });
    await c.next('subscribed');
    expect(h.hub.hasSubscribers('a')).toBe(false);
    c.ws.close();
  });

  it('answers bad messages with an error naming the problem, and keeps the connection', async () => {
    const h = await startHub();
    const c = await client(h.url);
    await c.next('hello');
    c.ws.send('not json');
    expect(await c.next('error')).toEqual({ type: 'error', message: 'message is not valid JSON' });
    c.send({ type: 'subscribe', streams: 7 });
    expect((await c.next('error')) as { message: string }).toMatchObject({
      message: expect.stringContaining('invalid message: streams'),
    });
    c.send({ type: 'subscribe', streams: ['a', 'nope'] });
    expect(await c.next('error')).toEqual({ type: 'error', message: 'unknown stream(s): nope' });
    expect(await c.next('subscribed')).toEqual({ type: 'subscribed', streams: ['a'] });
    c.send({ type: 'subscribe', streams: ['a'], style: 'mosaic' });
    expect(await c.next('error')).toEqual({
      type: 'error',
      message: 'this pipeline has no style stage: styles are not available',
    });
    c.send({ type: 'ping', t: 5 });
    expect(await c.next('pong')).toMatchObject({ type: 'pong', t: 5 });
    c.ws.close();
  });

  it('one rendering per distinct style choice; each viewer gets only its own', async () => {
    const h = await startHub(['wave', 'starry']);
    const plain = await client(h.url);
    const wave = await client(h.url);
    plain.send({ type: 'subscribe', streams: ['a'] });
    wave.send({ type: 'subscribe', streams: ['a'], style: 'wave', strength: 0.5 });
    expect(await wave.next('subscribed')).toEqual({
      type: 'subscribed',
      streams: ['a'],
      style: 'wave',
      strength: 0.5,
    });
    await plain.next('subscribed');
    wave.send({ type: 'subscribe', streams: ['a'], style: 'cubist' });
    expect(await wave.next('error')).toEqual({
      type: 'error',
      message: 'unknown style "cubist" (available: wave, starry)',
    });
    const keys = h.hub.variants('a').map((v) => v.key);
    expect(keys.sort()).toEqual(['plain', 'wave@0.50']);
    expect(h.hub.publish(header('a', 1), Buffer.from('styled'), 'wave@0.50')).toBe(1);
    await expect.poll(() => wave.frames.length).toBe(1);
    expect(plain.frames).toHaveLength(0);
    plain.ws.close();
    wave.ws.close();
  });

  it('a tap (viewers on other nodes) counts as a subscriber of the plain video and gets its frames', async () => {
    const h = await startHub(['wave']);
    const got: number[] = [];
    let wanted = true;
    const remove = h.hub.addTap({ wants: (s) => wanted && s === 'a', frame: (hd) => got.push(hd.seq) });
    expect(h.hub.hasSubscribers('a')).toBe(true);
    expect(h.hub.hasViewers('a')).toBe(false);
    expect(h.hub.hasSubscribers('b')).toBe(false);
    expect(h.hub.variants('a').map((v) => v.key)).toEqual(['plain']);
    expect(h.hub.publish(header('a', 1), Buffer.from('x'))).toBe(1);
    expect(h.hub.publish(header('a', 2), Buffer.from('x'), 'wave@1.00')).toBe(0);
    wanted = false;
    expect(h.hub.hasSubscribers('a')).toBe(false);
    expect(h.hub.publish(header('a', 3), Buffer.from('x'))).toBe(0);
    wanted = true;
    remove();
    expect(h.hub.publish(header('a', 4), Buffer.from('x'))).toBe(0);
    expect(got).toEqual([1]);
  });

  it('a status view (cluster mode) rewrites the hello and status broadcasts, until removed', async () => {
    const h = await startHub();
    const remove = h.hub.setStatusView((st) => ({ ...st, state: 'remote', node: 'b' }));
    const c = await client(h.url);
    expect(await c.next('hello')).toMatchObject({ streams: [{ id: 'a', state: 'remote', node: 'b' }] });
    const status = { id: 'a', state: 'stopped' as const, since: 1, attempts: 0, framesDecoded: 3 };
    h.hub.broadcast({ type: 'status', status });
    expect(await c.next('status')).toMatchObject({ status: { state: 'remote', node: 'b' } });
    remove();
    h.hub.broadcast({ type: 'status', status });
    expect(await c.next('status')).toEqual({ type: 'status', status });
    c.ws.close();
  });

  it('broadcasts reach every client, and a broadcast outside the schema is refused before sending', async () => {
    const h = await startHub();
    const c1 = await client(h.url);
    const c2 = await client(h.url);
    await c1.next('hello');
    h.hub.broadcast({ type: 'people', version: 3, people: 2 });
    expect(await c1.next('people')).toEqual({ type: 'people', version: 3, people: 2 });
    expect(await c2.next('people')).toEqual({ type: 'people', version: 3, people: 2 });
    // a status without its required fields never reaches the viewers
    expect(() => h.hub.broadcast({ type: 'status', status: { id: 'a' } } as never)).toThrow();
    await new Promise((r) => setTimeout(r, 50));
    expect(c1.texts.filter((m) => m.type === 'status')).toHaveLength(0);
    c1.ws.close();
    c2.ws.close();
    await expect.poll(() => h.hub.clientCount).toBe(0);
  });
});
