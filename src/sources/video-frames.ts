/**
 * A video file decoded to RGB frames in memory by ffmpeg: for training data, evaluation and
 * benchmarks (live streams go through stream-source.ts). Errors name the file.
 */
import { spawnSync } from 'node:child_process';
import type { RgbImage } from '../util/rgb.js';
import { resolveFfmpeg } from './ffmpeg.js';

export function decodeVideoFrames(
  file: string,
  opts: {
    /** Frames per second of video taken. */
    fps: number;
    width: number;
    /** Default: the video's aspect ratio at `width` (rounded to even). */
    height?: number;
    /** At most this many frames. */
    maxFrames?: number;
  },
): RgbImage[] {
  const ff = resolveFfmpeg().path;
  const w = opts.width;
  let h = opts.height;
  if (h === undefined) {
    const probe = spawnSync(ff, ['-hide_banner', '-i', file], { encoding: 'utf8' });
    const m = /, (\d{2,5})x(\d{2,5})[, ]/.exec(probe.stderr ?? '');
    if (!m) throw new Error(`cannot read video ${file}: no video size in ffmpeg's output`);
    h = Math.round(((Number(m[2]) / Number(m[1])) * w) / 2) * 2;
  }
  const res = spawnSync(
    ff,
    [
      '-v',
      'error',
      '-i',
      file,
      '-vf',
      `fps=${opts.fps},scale=${w}:${h}`,
      ...(opts.maxFrames ? ['-frames:v', String(opts.maxFrames)] : []),
      '-f',
      'rawvideo',
      '-pix_fmt',
      'rgb24',
      '-',
    ],
    { maxBuffer: 1 << 30 },
  );
  if (res.status !== 0) throw new Error(`ffmpeg failed on ${file}: ${res.stderr?.toString().trim()}`);
  const size = w * h * 3;
  const out: RgbImage[] = [];
  for (let o = 0; o + size <= res.stdout.length; o += size)
    out.push({ width: w, height: h, pixels: new Uint8Array(res.stdout.subarray(o, o + size)) });
  return out;
}
