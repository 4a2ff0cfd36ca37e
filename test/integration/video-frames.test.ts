// decodeVideoFrames: a real file made by ffmpeg, decoded to exact RGB frames; a bad file names itself.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveFfmpeg } from '../../src/sources/ffmpeg.js';
import { decodeVideoFrames } from '../../src/sources/video-frames.js';

describe('decodeVideoFrames', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-video-'));
  const file = join(dir, 'pattern.mp4');
  execFileSync(resolveFfmpeg().path, [
    '-v',
    'error',
    '-f',
    'lavfi',
    '-i',
    'testsrc2=size=320x240:rate=10:duration=3',
    '-pix_fmt',
    'yuv420p',
    file,
  ]);

  it('takes `fps` frames per second at the asked size, or the video aspect at the asked width', () => {
    const frames = decodeVideoFrames(file, { fps: 2, width: 160, height: 100 });
    expect(frames).toHaveLength(6);
    for (const f of frames) {
      expect([f.width, f.height]).toEqual([160, 100]);
      expect(f.pixels.length).toBe(160 * 100 * 3);
    }
    expect(frames[0]?.pixels.some((v) => v > 0)).toBe(true);
    const aspect = decodeVideoFrames(file, { fps: 1, width: 200, maxFrames: 2 });
    expect(aspect).toHaveLength(2);
    expect([aspect[0]?.width, aspect[0]?.height]).toEqual([200, 150]);
  });

  it('a file that is not a video gives an error naming it', () => {
    const bad = join(dir, 'not-a-video.mp4');
    writeFileSync(bad, 'hello');
    expect(() => decodeVideoFrames(bad, { fps: 1, width: 64 })).toThrow(bad);
    expect(() => decodeVideoFrames(bad, { fps: 1, width: 64, height: 48 })).toThrow(
      `ffmpeg failed on ${bad}`,
    );
  });
});
