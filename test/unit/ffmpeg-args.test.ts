import { describe, expect, it } from 'vitest';
import { StreamSchema } from '../../src/config/schema.js';
import { buildInvocation, decodeFps, socketTimeoutFlagFromHelp } from '../../src/sources/ffmpeg.js';
import { backoffDelay, summarizeStderr } from '../../src/sources/stream-source.js';

const stream = (o: Record<string, unknown>) => StreamSchema.parse({ id: 's', ...o });

describe('ffmpeg invocation', () => {
  it('RTSP: TCP transport, the socket timeout flag of this ffmpeg, fast start', () => {
    const inv = buildInvocation(stream({ url: 'rtsp://127.0.0.1:8554/cam', socketTimeoutSeconds: 3 }), {
      rtspSocketTimeoutFlag: 'timeout',
    });
    expect(inv.kind).toBe('rtsp');
    expect(inv.inputOptions.join(' ')).toContain(
      '-rtsp_transport tcp -timeout 3000000 -analyzeduration 500000 -probesize 32768',
    );
    const old = buildInvocation(stream({ url: 'rtsp://h/x' }), { rtspSocketTimeoutFlag: 'stimeout' });
    expect(old.inputOptions).toContain('-stimeout');
  });

  it('decodes to the configured size as raw RGB24 at the display rate', () => {
    const inv = buildInvocation(
      stream({ lavfi: 'testsrc2', width: 320, height: 180, displayFps: 12, detectFps: 4 }),
      {
        rtspSocketTimeoutFlag: 'timeout',
      },
    );
    expect(inv.inputOptions).toEqual(['-re', '-f', 'lavfi']);
    const vf = inv.outputOptions[inv.outputOptions.indexOf('-vf') + 1];
    expect(vf).toBe(
      'fps=12,scale=320:180:force_original_aspect_ratio=decrease,pad=320:180:(ow-iw)/2:(oh-ih)/2,format=rgb24',
    );
    expect(inv.outputOptions.slice(-4)).toEqual(['-f', 'rawvideo', '-pix_fmt', 'rgb24']);
    expect(decodeFps({ detectFps: 20, displayFps: 10 })).toBe(20);
  });

  it('files play at real-time pace and loop; cameras take their v4l2 options', () => {
    expect(
      buildInvocation(stream({ url: 'file:///v/a.mp4' }), { rtspSocketTimeoutFlag: 'timeout' }),
    ).toMatchObject({
      kind: 'file',
      input: '/v/a.mp4',
      inputOptions: ['-re', '-stream_loop', '-1'],
    });
    const cam = buildInvocation(
      stream({ device: '/dev/video0', v4l2: { inputFormat: 'mjpeg', videoSize: '1280x720' } }),
      {
        rtspSocketTimeoutFlag: 'timeout',
      },
    );
    expect(cam.inputOptions).toEqual(['-f', 'v4l2', '-input_format', 'mjpeg', '-video_size', '1280x720']);
  });

  it('reads the socket timeout flag from the binary’s own help', () => {
    expect(socketTimeoutFlagFromHelp('  -stimeout          <int>        .D....... set timeout')).toBe(
      'stimeout',
    );
    expect(socketTimeoutFlagFromHelp('  -timeout           <int64>      .D......... set timeout')).toBe(
      'timeout',
    );
  });
});

describe('reconnect policy', () => {
  it('backs off exponentially, capped, with bounded jitter', () => {
    const r = { initialMs: 500, maxMs: 8000, factor: 2, maxAttempts: 0 };
    const mid = () => 0.5;
    expect([1, 2, 3, 4, 5, 6, 10].map((a) => backoffDelay(a, r, mid))).toEqual([
      500, 1000, 2000, 4000, 8000, 8000, 8000,
    ]);
    expect(backoffDelay(1, r, () => 0)).toBe(400);
    expect(backoffDelay(1, r, () => 1)).toBe(600);
    expect(backoffDelay(9, r, () => 1)).toBe(8000);
  });

  it("picks ffmpeg's telling error line", () => {
    expect(summarizeStderr(['Input #0, rtsp', 'rtsp://127.0.0.1:1/x: Connection refused', ''])).toBe(
      'rtsp://127.0.0.1:1/x: Connection refused',
    );
    expect(summarizeStderr([])).toBeUndefined();
  });
});
