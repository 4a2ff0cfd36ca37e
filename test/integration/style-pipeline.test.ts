import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Vigil } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';
import { writeRandomStyle } from '../helpers/styles.js';
import { parseMetrics, TestViewer } from '../helpers/ws-client.js';

const meanAbsDiff = async (a: Buffer, b: Buffer) => {
  const [x, y] = await Promise.all([a, b].map((j) => sharp(j).raw().toBuffer()));
  let s = 0;
  for (let i = 0; i < (x as Buffer).length; i++)
    s += Math.abs(((x as Buffer)[i] as number) - ((y as Buffer)[i] as number));
  return s / (x as Buffer).length;
};

describe('style pipeline over WebSocket', () => {
  let vigil: Vigil;
  let port: number;
  const viewers: TestViewer[] = [];
  const connect = async (sub: Record<string, unknown>) => {
    const v = await TestViewer.connect(`ws://127.0.0.1:${port}/ws`, []);
    v.ws.send(JSON.stringify({ type: 'subscribe', streams: ['cam'], ...sub }));
    viewers.push(v);
    return v;
  };

  beforeAll(async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'vigil-style-pipe-'));
    mkdirSync(join(dataDir, 'styles'));
    await writeRandomStyle(join(dataDir, 'styles'), 'zz-test', 'test pattern');
    const broken = await writeRandomStyle(join(dataDir, 'styles'), 'zz-broken', 'test pattern');
    writeFileSync(join(broken, 'weights.bin'), readFileSync(join(broken, 'weights.bin')).subarray(0, 64));
    vigil = await Vigil.start(
      validateConfig({
        server: { host: '127.0.0.1', port: 0 },
        log: { level: 'silent' },
        pipeline: 'stylize',
        dataDir,
        inference: { backend: 'wasm' },
        streams: [
          { id: 'cam', lavfi: 'testsrc2=size=320x180:rate=10', width: 320, height: 180, displayFps: 5 },
        ],
      }),
    );
    port = vigil.address.port;
  }, 60_000);
  afterAll(async () => {
    for (const v of viewers) v.close();
    await vigil?.stop();
  });

  it('lists the styles (API and hello) with thumbnails', async () => {
    const list = (await (await fetch(`http://127.0.0.1:${port}/api/styles`)).json()) as Array<{
      name: string;
      thumbnail?: string;
      error?: string;
    }>;
    const test = list.find((s) => s.name === 'zz-test');
    expect(test?.thumbnail).toBe('/api/styles/zz-test/thumbnail.jpg');
    expect(list.find((s) => s.name === 'zz-broken')?.error).toMatch(/truncated/);
    const thumb = await fetch(`http://127.0.0.1:${port}${test?.thumbnail}`);
    expect(thumb.headers.get('content-type')).toBe('image/jpeg');
    expect((await fetch(`http://127.0.0.1:${port}/api/styles/nope/thumbnail.jpg`)).status).toBe(404);
  });

  it('each subscription gets its own style; one stylised frame per (stream, style), not per viewer', async () => {
    const plain = await connect({});
    const a = await connect({ style: 'zz-test' });
    const b = await connect({ style: 'zz-test', strength: 1 });
    const half = await connect({ style: 'zz-test', strength: 0.5 });
    const enough = (v: TestViewer) => v.frames.length >= 8;
    await Promise.all([plain, a, b, half].map((v) => v.waitFor(enough, 30_000, '8 frames')));
    expect(plain.frames.every((f) => f.header.style === null)).toBe(true);
    expect(a.frames.slice(-5).every((f) => f.header.style === 'zz-test' && f.header.strength === 1)).toBe(
      true,
    );
    expect(half.frames.at(-1)?.header.strength).toBe(0.5);
    // same frame, styled vs plain vs half: the styled one differs from the original, half lies between
    const seq = a.frames.at(-3)?.header.seq;
    const pick = (v: TestViewer) => v.frames.find((f) => f.header.seq === seq);
    await Promise.all([plain, half].map((v) => v.waitFor(() => Boolean(pick(v)), 5000, `frame ${seq}`)));
    const full = await meanAbsDiff(pick(a)?.jpeg as Buffer, pick(plain)?.jpeg as Buffer);
    const mid = await meanAbsDiff(pick(half)?.jpeg as Buffer, pick(plain)?.jpeg as Buffer);
    expect(full).toBeGreaterThan(10);
    expect(mid).toBeGreaterThan(full * 0.3);
    expect(mid).toBeLessThan(full * 0.7);
    // two viewers of zz-test at strength 1 and one at 0.5: stylised frames counted once per frame
    const m = parseMetrics(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
    const styled = m.get('vigil_style_frames_total{stream="cam",style="zz-test"}') ?? 0;
    const sentTo = new Set([...a.frames, ...b.frames, ...half.frames].map((f) => f.header.seq)).size;
    expect(styled).toBeGreaterThan(0);
    expect(styled).toBeLessThanOrEqual(sentTo + 2);
    // frames reach the style worker on their shared buffers and the blends are made there: no copy
    const copies = [...m].filter(([k]) => k.startsWith('vigil_frame_copies_total'));
    expect(
      copies.reduce((s, [, v]) => s + v, 0),
      JSON.stringify(copies),
    ).toBe(0);
    // the style's engine was chosen at first use (ONNX Runtime when equivalent and faster), and exported
    const engine = [...m.keys()].find((k) =>
      k.startsWith('vigil_inference_model_engine_info{model="style:zz-test"'),
    );
    expect(engine).toMatch(/engine="(onnx|tfjs)"/);
    const report = vigil.context.style?.host.engines.get('zz-test');
    expect(report?.maxAbs255).toBeLessThanOrEqual(1);
    expect(report?.engine === 'onnx' || Boolean(report?.reason)).toBe(true);
  }, 60_000);

  it('an unknown style is refused by name; a corrupt one leaves the stream running unstyled', async () => {
    const bad = await connect({});
    bad.ws.send(JSON.stringify({ type: 'subscribe', streams: ['cam'], style: 'nope' }));
    await bad.waitFor((v) => v.events.some((e) => e.type === 'error'), 5000, 'an error');
    expect(bad.events.find((e) => e.type === 'error')?.message).toMatch(
      /unknown style "nope" \(available: .*zz-test/,
    );

    const broken = await connect({ style: 'zz-broken' });
    await broken.waitFor((v) => v.frames.length >= 5, 30_000, '5 frames');
    expect(broken.frames.every((f) => f.header.style === null)).toBe(true);
    const m = parseMetrics(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
    expect(m.get('vigil_style_errors_total{stream="cam",style="zz-broken"}')).toBeGreaterThan(0);
  }, 60_000);
});

describe('style configuration errors', () => {
  it('an unknown default style stops start-up, naming the key and the styles there are', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'vigil-style-conf-'));
    const pipeline = join(dataDir, 'bad-style.yaml');
    writeFileSync(
      pipeline,
      'name: bad-style\nstages:\n  - style:\n      default: van-gogh-99\n  - encode: {}\n',
    );
    await expect(
      Vigil.start(
        validateConfig({
          server: { host: '127.0.0.1', port: 0 },
          log: { level: 'silent' },
          pipeline,
          dataDir,
          streams: [{ id: 'cam', lavfi: 'testsrc2=size=320x180:rate=5', width: 320, height: 180 }],
        }),
      ),
    ).rejects.toThrow(/stages\.style\.default: unknown style "van-gogh-99" \(available: /);
  });
});
