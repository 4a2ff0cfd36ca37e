/**
 * The stage contract without the service: pipeline files validated by each stage's schema, the
 * builder's chain (rates, forks, frame references), and the alert and redact stages alone.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import { Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import type { StreamConfig } from '../../src/config/schema.js';
import { AlertStore, type FaceAlert } from '../../src/faces/alerts.js';
import type { Detection } from '../../src/inference/contract.js';
import { VigilMetrics } from '../../src/metrics/metrics.js';
import type { FrameHeader, FramePublisher } from '../../src/output/ws-hub.js';
import { buildChain } from '../../src/pipeline/builder.js';
import { contextOf, type Recognition } from '../../src/pipeline/context.js';
import { listPipelines, loadPipeline, parsePipeline } from '../../src/pipeline/definition.js';
import { describeStages, stageProperties } from '../../src/pipeline/inspect.js';
import { type StageContext, stageKind, stageKinds } from '../../src/pipeline/stage.js';
import { BufferPool, type Frame, pooledFrame } from '../../src/sources/frame.js';
// after the stage registry (imported above): the registered kinds keep their order
import { storeThenPublish } from '../../src/pipeline/stages/alert.js';

const W = 64;
const H = 48;
const log = pino({ level: 'silent' });

function stream(id: string, detectFps: number, displayFps: number): StreamConfig {
  const c = validateConfig({ streams: [{ id, lavfi: 'testsrc2', detectFps, displayFps }] });
  return c.streams[0] as StreamConfig;
}

function framer(id: string, pool = new BufferPool(W * H * 3, 16)) {
  let seq = 0;
  return {
    pool,
    next(ts: number, fill = 100): Frame {
      const px = pool.acquire();
      if (!px) throw new Error('pool exhausted');
      px.fill(fill);
      return pooledFrame(pool, {
        streamId: id,
        seq: seq++,
        captureTs: ts,
        width: W,
        height: H,
        pixels: px,
        readSeconds: 0,
      });
    },
  };
}

/** Publishes into arrays (what the WebSocket hub would send). */
function collector(watched = true) {
  const sent: Array<{ header: FrameHeader; jpeg: Buffer; variant?: string }> = [];
  const pub: FramePublisher = {
    hasSubscribers: () => watched,
    publish: (header, jpeg, variant) => {
      sent.push({ header, jpeg, variant });
      return 1;
    },
  };
  return { pub, sent };
}

function stageContext(services: Record<string, unknown>, burnIn = false): StageContext {
  return {
    pipeline: 'test',
    metrics: new VigilMetrics(),
    log,
    output: validateConfig({ streams: [{ id: 'x', lavfi: 'testsrc2' }], output: { burnIn } }).output,
    batching: { maxBatch: 4, maxWaitMs: 5 },
    services: new Map(Object.entries(services)),
  };
}

/** A detector over real batching: one box per frame, at a position given by the frame's first pixel. */
function boxDetector(calls: number[]) {
  return {
    idle: () => 1,
    whenIdle: () => Promise.resolve(),
    run: async (frames: Frame[]): Promise<Detection[][]> => {
      calls.push(frames.length);
      return frames.map((f) => [
        { box: [8, 8, 24, 24] as [number, number, number, number], score: 0.9, landmarks: [], seq: f.seq },
      ]);
    },
  };
}

const until = async (cond: () => boolean, ms = 3000) => {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('pipeline definitions: each stage validated by its own schema', () => {
  it('registers at least detect, recognize, alert, annotate, encode, style and redact, each with a schema', () => {
    const kinds = stageKinds().map((k) => k.kind);
    expect(kinds).toEqual(
      expect.arrayContaining(['detect', 'recognize', 'alert', 'annotate', 'encode', 'style', 'redact']),
    );
    for (const k of stageKinds()) expect(k.schema.safeParse({}).success, k.kind).toBe(true);
  });

  it('every shipped pipeline loads, its stages in the order written', () => {
    expect(listPipelines()).toEqual(
      expect.arrayContaining(['detect', 'recognize', 'stylize', 'passthrough']),
    );
    for (const name of listPipelines()) expect(loadPipeline(name).stages.at(-1)?.kind, name).toBe('encode');
    expect(loadPipeline('recognize').stages.map((s) => s.kind)).toEqual([
      'detect',
      'recognize',
      'alert',
      'annotate',
      'encode',
    ]);
  });

  it('an unknown stage names the file, the index and the registered kinds', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-pipe-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'name: bad\nstages:\n  - detect: {}\n  - frobnicate: {}\n  - encode: {}\n');
    expect(() => loadPipeline(file)).toThrow(
      new RegExp(
        `${file}[\\s\\S]*stages\\[1\\]: unknown stage "frobnicate" \\(registered: detect, recognize`,
      ),
    );
  });

  it('bad stage config names the stage index, kind and key', () => {
    const bad = { name: 'x', stages: [{ detect: { minScore: 3, tilez: 2 } }, { encode: {} }] };
    expect(() => parsePipeline(bad, 'x.yaml')).toThrow(
      /x\.yaml[\s\S]*stages\[0\]\.detect\.minScore: Too big/,
    );
    expect(() => parsePipeline(bad, 'x.yaml')).toThrow(/stages\[0\]\.detect\.tilez: unknown key/);
    expect(() =>
      parsePipeline({ name: 'x', stages: [{ redact: { faces: 'except' } }, { encode: {} }] }),
    ).toThrow(/stages\[0\]\.redact\.keep: faces: except needs at least one name/);
  });

  it('order: analysis before rendering, one output stage last', () => {
    expect(() =>
      parsePipeline({ name: 'x', stages: [{ annotate: {} }, { detect: {} }, { encode: {} }] }),
    ).toThrow(/stages\[1\]: detect \(analyze\) must come before annotate \(render\)/);
    expect(() => parsePipeline({ name: 'x', stages: [{ detect: {} }] })).toThrow(
      /last stage must be an output stage/,
    );
    expect(() => parsePipeline({ name: 'x', stages: [{ detect: {}, encode: {} }] })).toThrow(
      /stages\[0\]: one stage kind per entry/,
    );
  });
});

describe('the chain the builder makes', () => {
  it('infers at detectFps, shows at displayFps with the latest detections, releases every frame once', async () => {
    const calls: number[] = [];
    const { pub, sent } = collector();
    const cam = framer('cam');
    const frames$ = new Subject<Frame>();
    const def = parsePipeline({ name: 't', stages: [{ detect: {} }, { encode: {} }] });
    const chain = buildChain(def, stageContext({ detector: boxDetector(calls), viewers: pub }), {
      sources: [{ config: stream('cam', 5, 10), frames$ }],
      watched: () => true,
    });
    expect(chain.kinds).toEqual(['detect', 'encode']);
    // 10 fps source for 2 s: 20 frames, 10 due for inference, all 20 for display
    for (let i = 0; i < 20; i++) {
      const f = cam.next(1000 + i * 100);
      frames$.next(f);
      f.release(); // the source's own reference, as StreamSource does after emitting
      await new Promise((r) => setTimeout(r, 10));
    }
    await until(() => sent.length >= 18 && cam.pool.inUse === 0);
    expect(calls.reduce((a, b) => a + b, 0)).toBe(10);
    expect(chain.latest.get('cam')?.detections).toHaveLength(1);
    const later = sent.filter((s) => s.header.detectionSeq !== null);
    expect(later.length).toBeGreaterThan(10);
    for (const s of later) expect(s.header.detections).toHaveLength(1);
    await chain.stop();
    expect(cam.pool.inUse).toBe(0);
  });

  it('frames nobody watches are not rendered, yet still inferred', async () => {
    const calls: number[] = [];
    const { pub, sent } = collector(false);
    const cam = framer('cam');
    const frames$ = new Subject<Frame>();
    const def = parsePipeline({ name: 't', stages: [{ detect: {} }, { annotate: {} }, { encode: {} }] });
    const chain = buildChain(def, stageContext({ detector: boxDetector(calls), viewers: pub }), {
      sources: [{ config: stream('cam', 5, 5), frames$ }],
      watched: () => false,
    });
    for (let i = 0; i < 5; i++) {
      const f = cam.next(i * 200);
      frames$.next(f);
      f.release();
      await new Promise((r) => setTimeout(r, 10));
    }
    await until(() => calls.length > 0 && cam.pool.inUse === 0);
    expect(sent).toHaveLength(0);
    await chain.stop();
  });

  it('a stage that needs a missing module fails at build time naming the stage and module', () => {
    const def = parsePipeline({ name: 't', stages: [{ detect: {} }, { encode: {} }] });
    expect(() =>
      buildChain(def, stageContext({ viewers: collector().pub }), { sources: [], watched: () => true }),
    ).toThrow(/stage "detect" needs the detector module/);
  });
});

describe('alert stage alone', () => {
  function alertStage(cfg: Record<string, unknown>) {
    const db = new Database(':memory:');
    const store = new AlertStore(db);
    const published: FaceAlert[] = [];
    const kind = stageKind('alert');
    if (!kind) throw new Error('alert stage not registered');
    const inst = kind.create(
      kind.schema.parse(cfg),
      stageContext({ alerts: storeThenPublish(store, (a: FaceAlert) => published.push(a)) }),
    );
    const input = new Subject<ReturnType<typeof contextOf>>();
    const out: unknown[] = [];
    if (!inst.operator) throw new Error('alert is an analysis stage');
    input.pipe(inst.operator).subscribe((c) => {
      out.push(c);
      c.frame.release();
    });
    return { store, published, input, out, db };
  }
  const look = (r: Partial<Recognition>): Recognition => ({
    trackId: 1,
    box: [8, 8, 40, 40],
    landmarks: [],
    label: 'anna',
    personId: 7,
    similarity: 0.8,
    lookUnknown: false,
    unknownLooks: 0,
    embedding: new Float32Array(4),
    ...r,
  });

  it('stores and publishes a watched person once per cooldown, with a snapshot; strangers after two looks', async () => {
    const a = alertStage({ persons: ['anna'], cooldownSeconds: 60 });
    const cam = framer('cam');
    const send = (r: Recognition[]) => {
      const f = cam.next(Date.now());
      const c = contextOf(f, { display: false, infer: false });
      f.release();
      c.recognitions = r;
      a.input.next(c);
    };
    send([look({})]);
    send([look({ trackId: 2 })]); // same person, same camera, within the cooldown
    send([look({ trackId: 3, label: 'bob', personId: 8 })]); // not watched
    send([look({ trackId: 4, label: 'unknown', personId: null, unknownLooks: 1, lookUnknown: true })]);
    await until(() => a.published.length >= 1 && cam.pool.inUse === 0);
    expect(a.published.map((p) => p.sub_label)).toEqual(['anna']);
    expect(a.published[0]?.has_snapshot).toBe(true);
    // with where its face is in it: the 32 px box at (8, 8) plus 16 px a side, clipped at the
    // frame's corner to 0..56, scaled to 256 px (x 4.57)
    const stored = a.store.snapshotWithFace(a.published[0]?.id as number);
    expect(stored?.face?.box.map(Math.round)).toEqual([37, 37, 183, 183]);
    expect(a.out).toHaveLength(4); // contexts pass on
    const b = alertStage({ persons: 'all', unknown: true, unknownLooks: 2 });
    const cam2 = framer('cam');
    const c = contextOf(cam2.next(Date.now()), { display: false, infer: false });
    c.frame.release();
    c.recognitions = [
      look({ trackId: 5, label: 'unknown', personId: null, unknownLooks: 1 }),
      look({ trackId: 6, label: 'unknown', personId: null, unknownLooks: 2 }),
    ];
    b.input.next(c);
    await until(() => b.published.length >= 1 && cam2.pool.inUse === 0);
    expect(b.published.map((p) => p.track_id)).toEqual([6]);
    expect(b.store.list({ limit: 10 }).map((x) => x.track_id)).toEqual([6]);
  });
});

describe('vigil stages (gst-inspect for stages)', () => {
  it('lists every kind with its keys, types and defaults from the schemas', () => {
    const text = describeStages();
    for (const k of ['detect', 'recognize', 'alert', 'annotate', 'encode', 'style', 'redact'])
      expect(text).toMatch(new RegExp(`^${k} \\((analyze|render|output)`, 'm'));
    expect(text).toMatch(/minScore +number 0\.\.1, default 0\.6\n +Minimum detector score of a face\./);
    const redact = stageProperties(stageKind('redact') as NonNullable<ReturnType<typeof stageKind>>);
    expect(redact.find((p) => p.key === 'faces')).toMatchObject({
      type: '"all" | "unknown" | "except"',
      default: 'all',
    });
    for (const k of stageKinds())
      for (const p of stageProperties(k)) expect(p.description, `${k.kind}.${p.key}`).not.toBe('');
  });

  it('the built CLI prints one kind, and names the registered ones for an unknown kind', () => {
    const cli = join(process.cwd(), 'dist', 'cli.js');
    const ok = spawnSync(process.execPath, [cli, 'stages', 'redact'], { encoding: 'utf8' });
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^redact \(render\): Pixelates faces/);
    expect(ok.stdout).not.toMatch(/^detect/m);
    const bad = spawnSync(process.execPath, [cli, 'stages', 'nosuch'], { encoding: 'utf8' });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(
      /no stage kind "nosuch" \(registered: detect, recognize, alert, style, redact, annotate, encode\)/,
    );
  });
});
