/**
 * Detect small, embed big (streams[].embedFrom): the plan (size, every K-th frame), the ffmpeg
 * graph, the probe's size parser, the pairing of detect frames with full pictures in either arrival
 * order (buffers all back in their pools), the mapping of boxes, and config errors naming the key.
 */
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import { buildInvocation } from '../../src/sources/ffmpeg.js';
import { BufferPool, type Frame, faceSource, pooledFrame } from '../../src/sources/frame.js';
import { FullFramePairer, fullResPlan, parseVideoSize } from '../../src/sources/full-res.js';

const stream = (extra: Record<string, unknown> = {}) =>
  // biome-ignore lint/style/noNonNullAssertion: one stream configured
  validateConfig({ streams: [{ id: 'cam', url: 'rtsp://h/x', ...extra }] }).streams[0]!;

describe('fullResPlan', () => {
  it('auto: the source size inside the detect frame, capped at fullWidth; none for small or unknown sources', () => {
    const s = stream();
    expect(s.embedFrom).toBe('auto');
    expect(fullResPlan(s, { width: 1920, height: 1080 })).toEqual({ width: 1920, height: 1080, every: 3 });
    expect(fullResPlan(s, { width: 1280, height: 720 })).toEqual({ width: 1280, height: 720, every: 3 });
    expect(fullResPlan(s, { width: 3840, height: 2160 })).toEqual({ width: 1920, height: 1080, every: 3 });
    // 4:3 in a 16:9 detect frame: its height sets the scale (1080 / 360 = 3)
    expect(fullResPlan(s, { width: 1440, height: 1080 })?.width).toBe(1920);
    expect(fullResPlan(s, { width: 640, height: 360 })).toBeNull();
    expect(fullResPlan(s, { width: 800, height: 450 })).toBeNull(); // 1.25x: not worth a second output
    expect(fullResPlan(s)).toBeNull();
  });

  it('full: fullWidth, whatever the source; detect: none; every K = decode rate / detect rate', () => {
    expect(fullResPlan(stream({ embedFrom: 'full', fullWidth: 1280, detectFps: 5, displayFps: 5 }))).toEqual({
      width: 1280,
      height: 720,
      every: 1,
    });
    expect(fullResPlan(stream({ embedFrom: 'detect' }), { width: 1920, height: 1080 })).toBeNull();
    expect(fullResPlan(stream({ embedFrom: 'full', detectFps: 2, displayFps: 15 }))?.every).toBe(8);
  });
});

describe('config', () => {
  it('bad embedFrom / fullWidth / fullFrames are errors naming the key', () => {
    const bad = (extra: Record<string, unknown>) => () => stream(extra);
    expect(bad({ embedFrom: 'hires' })).toThrow(/streams\[0\]\.embedFrom/);
    expect(bad({ embedFrom: 'full', fullWidth: 640 })).toThrow(
      /streams\[0\]\.fullWidth: must be larger than width/,
    );
    expect(bad({ fullWidth: 1281 })).toThrow(/streams\[0\]\.fullWidth: must be even/);
    expect(bad({ fullWidth: 10_000 })).toThrow(/streams\[0\]\.fullWidth/);
    expect(bad({ fullFrames: 1 })).toThrow(/streams\[0\]\.fullFrames/);
  });
});

describe('ffmpeg graph with a full-resolution output', () => {
  it('one letterbox at the full size, split; the detect frame is it scaled whole; every K-th full picture', () => {
    const s = stream({ detectFps: 5, displayFps: 15 });
    const inv = buildInvocation(
      s,
      { rtspSocketTimeoutFlag: 'timeout' },
      { width: 1920, height: 1080, every: 3 },
    );
    const full = inv.fullOutputOptions ?? [];
    const graph = full[full.indexOf('-filter_complex') + 1];
    expect(graph).toBe(
      '[0:v]fps=15,scale=1920:1080:force_original_aspect_ratio=decrease,pad=1920:1080:(ow-iw)/2:(oh-ih)/2,' +
        'split=2[hi][lo];[lo]scale=640:360,format=rgb24[det];[hi]select=not(mod(n\\,3)),format=rgb24[full]',
    );
    expect(full).toContain('[full]');
    expect(full.slice(0, 2)).toEqual(['-vsync', '0']);
    expect(inv.outputOptions).toEqual(['-map', '[det]', '-f', 'rawvideo', '-pix_fmt', 'rgb24']);
    // without a plan: today's single output
    expect(buildInvocation(s, { rtspSocketTimeoutFlag: 'timeout' }).fullOutputOptions).toBeUndefined();
  });
});

describe('parseVideoSize', () => {
  it("reads the first video stream's size from ffmpeg's banner, not the codec tag", () => {
    const banner = [
      "Input #0, rtsp, from 'rtsp://127.0.0.1:8554/test':",
      '  Stream #0:0: Video: h264 (Constrained Baseline) (avc1 / 0x31637661), yuv420p(progressive), 1920x1080 [SAR 1:1 DAR 16:9], 15 fps',
    ].join('\n');
    expect(parseVideoSize(banner)).toEqual({ width: 1920, height: 1080 });
    expect(
      parseVideoSize('  Stream #0:0: Video: rawvideo (I420 / 0x30323449), yuv420p, 1280x720, 15 tbr'),
    ).toEqual({
      width: 1280,
      height: 720,
    });
    expect(parseVideoSize('rtsp://h/x: Connection refused')).toBeUndefined();
  });
});

function framesOf(pool: BufferPool, w: number, h: number) {
  let seq = 0;
  return () => {
    const px = pool.acquire();
    if (!px) throw new Error('pool exhausted');
    return pooledFrame(pool, {
      streamId: 'cam',
      seq: seq++,
      captureTs: 0,
      width: w,
      height: h,
      pixels: px,
      readSeconds: 0,
    });
  };
}

describe('FullFramePairer', () => {
  it('pairs in either arrival order, keeps decode order, lets a frame go without its dropped picture; all buffers back', () => {
    const small = new BufferPool(4 * 2 * 3, 16);
    const big = new BufferPool(12 * 6 * 3, 4);
    const lo = framesOf(small, 4, 2);
    const hi = framesOf(big, 12, 6);
    const out: Frame[] = [];
    const pairer = new FullFramePairer(2, (f) => out.push(f.retain()));
    const give = (f: Frame, fn: (f: Frame) => void) => {
      fn(f);
      f.release();
    };
    give(lo(), (f) => pairer.onFrame(f, 0)); // due, waits for full #0
    give(lo(), (f) => pairer.onFrame(f, 1)); // not due, but behind #0
    expect(out).toHaveLength(0);
    give(hi(), (f) => pairer.onFull(f)); // full #0 arrives: both go
    expect(out.map((f) => [f.seq, f.full?.width])).toEqual([
      [0, 12],
      [1, undefined],
    ]);
    give(hi(), (f) => pairer.onFull(f)); // full #1 before its frame
    give(lo(), (f) => pairer.onFrame(f, 2));
    expect(out[2]?.full?.scaleX).toBe(3);
    give(lo(), (f) => pairer.onFrame(f, 3));
    pairer.onFullDropped(2); // its pool was exhausted
    give(lo(), (f) => pairer.onFrame(f, 4));
    expect(out.map((f) => f.seq)).toEqual([0, 1, 2, 3, 4]);
    expect(out[4]?.full).toBeUndefined();
    expect(big.inUse).toBe(2); // held by frames 0 and 2
    for (const f of out) f.release();
    expect(pairer.held).toBe(0);
    expect([small.inUse, big.inUse]).toEqual([0, 0]);
  });

  it('a reset gives back what waits; a late picture of a frame that went on is given back', () => {
    const small = new BufferPool(4 * 2 * 3, 16);
    const big = new BufferPool(12 * 6 * 3, 4);
    const lo = framesOf(small, 4, 2);
    const hi = framesOf(big, 12, 6);
    const out: Frame[] = [];
    const pairer = new FullFramePairer(1, (f) => out.push(f), 2);
    for (let i = 0; i < 3; i++) {
      const f = lo();
      pairer.onFrame(f, i);
      f.release();
    }
    // three due frames and no picture: over maxWaiting the first goes on without one
    expect(out.map((f) => [f.seq, f.full])).toEqual([[0, undefined]]);
    const late = hi(); // full #0, too late
    pairer.onFull(late);
    late.release();
    expect(big.inUse).toBe(0);
    pairer.reset();
    expect([small.inUse, big.inUse, pairer.held]).toEqual([0, 0, 0]);
  });
});

describe('faceSource', () => {
  it('maps the box and keypoints into the full picture by its scale per axis', () => {
    const pool = new BufferPool(4 * 2 * 3, 1);
    const f = framesOf(pool, 4, 2)();
    const face = {
      box: [1, 0.5, 2, 1.5] as [number, number, number, number],
      landmarks: [[1.5, 1]] as Array<[number, number]>,
    };
    expect(faceSource(f, face).image).toBe(f);
    f.attachFull(
      { width: 12, height: 6, pixels: new Uint8Array(12 * 6 * 3), scaleX: 3, scaleY: 3 },
      () => {},
    );
    const { image, face: mapped } = faceSource(f, face);
    expect(image.width).toBe(12);
    expect(mapped.box).toEqual([3, 1.5, 6, 4.5]);
    expect(mapped.landmarks).toEqual([[4.5, 3]]);
    f.release();
  });
});
