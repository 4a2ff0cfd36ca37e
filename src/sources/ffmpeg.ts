import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { StreamConfig } from '../config/schema.js';
import { packageRoot } from '../util/packages.js';
import type { FullResPlan } from './full-res.js';

/** What Vigil needs to know about the ffmpeg binary it runs. */
export interface FfmpegInfo {
  path: string;
  version: string;
  /** Name of the RTSP socket I/O timeout option: `timeout` on ffmpeg >= 5, `stimeout` on older builds. */
  rtspSocketTimeoutFlag: 'timeout' | 'stimeout';
  source: 'config' | 'system' | '@ffmpeg-installer';
}

const require = createRequire(import.meta.url);

function probe(path: string): { version: string; rtspHelp: string } | null {
  const v = spawnSync(path, ['-hide_banner', '-version'], { encoding: 'utf8', timeout: 10_000 });
  if (v.error || v.status !== 0) return null;
  const h = spawnSync(path, ['-hide_banner', '-h', 'demuxer=rtsp'], { encoding: 'utf8', timeout: 10_000 });
  const version = /ffmpeg version (\S+)/.exec(v.stdout)?.[1] ?? 'unknown';
  return { version, rtspHelp: h.stdout ?? '' };
}

/** The socket-timeout flag from the binary's own RTSP demuxer help (no version guessing). */
export function socketTimeoutFlagFromHelp(rtspHelp: string): 'timeout' | 'stimeout' {
  return /^\s*-stimeout\s/m.test(rtspHelp) ? 'stimeout' : 'timeout';
}

let cached: FfmpegInfo | undefined;

/** Finds ffmpeg: the configured path, else the system one on PATH, else @ffmpeg-installer's static build. */
export function resolveFfmpeg(configured?: string): FfmpegInfo {
  if (cached && (!configured || cached.path === configured)) return cached;
  const candidates: Array<[string, FfmpegInfo['source']]> = [];
  if (configured) candidates.push([configured, 'config']);
  else {
    candidates.push(['ffmpeg', 'system']);
    try {
      candidates.push([(require('@ffmpeg-installer/ffmpeg') as { path: string }).path, '@ffmpeg-installer']);
    } catch {
      // not installed: only the system binary is a candidate
    }
  }
  for (const [path, source] of candidates) {
    const p = probe(path);
    if (p) {
      const info: FfmpegInfo = {
        path,
        version: p.version,
        rtspSocketTimeoutFlag: socketTimeoutFlagFromHelp(p.rtspHelp),
        source,
      };
      if (!configured) cached = info;
      return info;
    }
  }
  throw new Error(
    configured
      ? `ffmpeg not found or not runnable at ffmpegPath "${configured}"`
      : 'ffmpeg not found: install it (apt-get install ffmpeg) or keep @ffmpeg-installer/ffmpeg installed',
  );
}

/** The sample photos of the embedded demo (they ship with @vladmandic/face-api). */
export function demoImagePattern(): string {
  return join(packageRoot('@vladmandic/face-api'), 'demo', 'sample%d.jpg');
}

export interface FfmpegInvocation {
  input: string;
  inputOptions: string[];
  outputOptions: string[];
  kind: 'rtsp' | 'url' | 'file' | 'device' | 'lavfi' | 'demo';
  /**
   * With a full-resolution plan: the options of the first output (the full pictures, to the
   * receiver's socket); `outputOptions` are then the detect frames' (stdout).
   */
  fullOutputOptions?: string[];
}

/** Output rate: enough frames for both the display and the detection rate. */
export function decodeFps(s: Pick<StreamConfig, 'detectFps' | 'displayFps'>): number {
  return Math.max(s.detectFps, s.displayFps);
}

// -analyzeduration 0 is not "none" but ffmpeg's default, 5 s: a low-bitrate picture (a still
// scene, a night camera) then waited up to 5 s for its first frame; 0.5 s is enough for H.264,
// whose size comes with the first parameter sets (measured 5.5 s -> 1.5 s on a still RTSP stream)
const LOW_LATENCY = [
  '-analyzeduration',
  '500000',
  '-probesize',
  '32768',
  '-fflags',
  'nobuffer',
  '-flags',
  'low_delay',
];
const RAW_RGB = ['-f', 'rawvideo', '-pix_fmt', 'rgb24'];

/**
 * ffmpeg arguments for a stream: decode, convert to `width`x`height` RGB24 (aspect kept, letterboxed)
 * at the decode rate, raw on stdout. Pure: tested without running ffmpeg.
 */
export function buildInvocation(
  s: StreamConfig,
  ff: Pick<FfmpegInfo, 'rtspSocketTimeoutFlag'>,
  full?: FullResPlan | null,
): FfmpegInvocation {
  const fps = decodeFps(s);
  const size = `scale=${s.width}:${s.height}:force_original_aspect_ratio=decrease,pad=${s.width}:${s.height}:(ow-iw)/2:(oh-ih)/2`;
  const lowLatency = LOW_LATENCY;
  let inv: Omit<FfmpegInvocation, 'outputOptions'>;
  let pre = '';
  if (s.demo) {
    // Six photos of different sizes, four seconds each, slowly zoomed so the stream looks like video.
    // -reinit_filter 0 + eval=frame: the graph (and the fps filter's state) survives size changes;
    // `realtime` paces the output.
    const per = Math.round(4 * fps);
    pre =
      `scale=1280:720:force_original_aspect_ratio=decrease:eval=frame,pad=1280:720:(ow-iw)/2:(oh-ih)/2:eval=frame,fps=${fps},` +
      `zoompan=z='1+0.004*mod(on\\,${per})':d=1:x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)':s=1280x720:fps=${fps},realtime,`;
    inv = {
      kind: 'demo',
      input: demoImagePattern(),
      inputOptions: ['-reinit_filter', '0', '-loop', '1', '-framerate', '0.25', '-f', 'image2'],
    };
  } else if (s.lavfi) {
    inv = { kind: 'lavfi', input: s.lavfi, inputOptions: ['-re', '-f', 'lavfi'] };
  } else if (s.device) {
    const o = ['-f', 'v4l2'];
    if (s.v4l2.inputFormat) o.push('-input_format', s.v4l2.inputFormat);
    if (s.v4l2.framerate) o.push('-framerate', String(s.v4l2.framerate));
    if (s.v4l2.videoSize) o.push('-video_size', s.v4l2.videoSize);
    inv = { kind: 'device', input: s.device, inputOptions: o };
  } else {
    const url = s.url ?? '';
    if (/^rtsps?:\/\//i.test(url)) {
      inv = {
        kind: 'rtsp',
        input: url,
        inputOptions: [
          '-rtsp_transport',
          s.rtspTransport,
          `-${ff.rtspSocketTimeoutFlag}`,
          String(Math.round(s.socketTimeoutSeconds * 1e6)),
          ...lowLatency,
        ],
      };
    } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url) && !/^file:/i.test(url)) {
      inv = {
        kind: 'url',
        input: url,
        inputOptions: ['-rw_timeout', String(Math.round(s.socketTimeoutSeconds * 1e6)), ...lowLatency],
      };
    } else {
      const o: string[] = [];
      if (s.realtime) o.push('-re');
      if (s.loop) o.push('-stream_loop', '-1');
      inv = { kind: 'file', input: url.replace(/^file:\/\//i, ''), inputOptions: o };
    }
  }
  const inputOptions = [...inv.inputOptions, ...s.inputOptions];
  if (full) return { ...inv, inputOptions, ...splitOutputs(s, full, `${pre}fps=${fps}`) };
  return {
    ...inv,
    inputOptions,
    outputOptions: ['-an', '-sn', '-dn', '-vf', `${pre}fps=${fps},${size},format=rgb24`, ...RAW_RGB],
  };
}

/**
 * One decode, two outputs: the picture letterboxed once at the full size, split; the detect frames
 * are it scaled down whole (so boxes map by a factor per axis), the full branch keeps every
 * `every`-th frame. `-vsync 0`: the muxer must not repeat full pictures back up to the frame rate.
 */
function splitOutputs(
  s: Pick<StreamConfig, 'width' | 'height'>,
  full: FullResPlan,
  head: string,
): Pick<FfmpegInvocation, 'outputOptions' | 'fullOutputOptions'> {
  const { width: fw, height: fh, every } = full;
  const box = `scale=${fw}:${fh}:force_original_aspect_ratio=decrease,pad=${fw}:${fh}:(ow-iw)/2:(oh-ih)/2`;
  const pick = every > 1 ? `select=not(mod(n\\,${every})),` : '';
  const graph =
    `[0:v]${head},${box},split=2[hi][lo];` +
    `[lo]scale=${s.width}:${s.height},format=rgb24[det];[hi]${pick}format=rgb24[full]`;
  return {
    fullOutputOptions: ['-vsync', '0', '-filter_complex', graph, '-map', '[full]', ...RAW_RGB],
    outputOptions: ['-map', '[det]', ...RAW_RGB],
  };
}
