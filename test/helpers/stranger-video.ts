/**
 * A video of people nobody enrolled, for open-set tests on a real stream: faces of the labelled
 * sets (../shared/data/faces) composited over a real scene, the stage of the Hamilton clip with its
 * own two faces blurred away. Each appearance is one face image (a crop with a soft oval edge, or an
 * uncropped photo as a picture carried past) moving in a straight line for a few seconds at one size
 * (faces of 40-120 px); two appearances overlap in time. Everything is drawn from a seeded Rng, so
 * the same inputs give the same video; where each face went is returned, to check tracks against.
 */
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { resolveFfmpeg } from '../../src/sources/ffmpeg.js';
import { Rng } from '../../src/util/rng.js';

export interface StrangerFace {
  person: string;
  file: string;
  /** "crop": a face crop (the face fills ~2/3 of it); "photo": an uncropped photo. */
  kind: 'crop' | 'photo';
}

export interface Appearance extends StrangerFace {
  /** Seconds into the video. */
  start: number;
  seconds: number;
  /** Top-left corner of the pasted image at the start and at the end, and its size (frame px). */
  from: [number, number];
  to: [number, number];
  width: number;
  height: number;
}

export interface StrangerVideo {
  file: string;
  seconds: number;
  appearances: Appearance[];
}

const W = 640;
const H = 360;
const FPS = 10;
/** The Hamilton clip's wide stage shot, and where its two faces are in it (640x360). */
const STAGE_AT_S = 0.3;
const STAGE_FACES: Array<[number, number, number, number]> = [
  [500, 20, 100, 100], // Lin-Manuel Miranda, singing (left, top, width, height)
  [20, 150, 90, 95], // Alex Lacamoire at the piano
];

/** The stage without faces: a frame of the clip, its faces under a heavy blur (PNG file). */
export async function faceFreeStage(clip: string, dir: string): Promise<string> {
  const frame = join(dir, 'stage.png');
  execFileSync(
    resolveFfmpeg().path,
    ['-y', '-loglevel', 'error', '-ss', String(STAGE_AT_S), '-i', clip].concat([
      '-frames:v',
      '1',
      '-vf',
      `scale=${W}:${H}`,
      frame,
    ]),
  );
  const covers = await Promise.all(
    STAGE_FACES.map(async ([left, top, width, height]) => ({
      input: await sharp(frame).extract({ left, top, width, height }).blur(18).toBuffer(),
      left,
      top,
    })),
  );
  const out = join(dir, 'stage-no-faces.png');
  await sharp(frame).composite(covers).png().toFile(out);
  return out;
}

/** The image as pasted: a crop resized to `side` with a feathered oval edge, or a photo `side` high. */
async function pasted(
  face: StrangerFace,
  side: number,
): Promise<{ png: Buffer; width: number; height: number }> {
  if (face.kind === 'photo') {
    const { data, info } = await sharp(face.file)
      .rotate()
      .resize({ height: side })
      .removeAlpha()
      .png()
      .toBuffer({ resolveWithObject: true });
    return { png: data, width: info.width, height: info.height };
  }
  const oval = Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${side}" height="${side}"><defs><radialGradient id="g">` +
      '<stop offset="80%" stop-color="#fff" stop-opacity="1"/><stop offset="100%" stop-color="#fff" stop-opacity="0"/>' +
      `</radialGradient></defs><ellipse cx="${side / 2}" cy="${side / 2}" rx="${side / 2}" ry="${side / 2}" fill="url(#g)"/></svg>`,
  );
  const png = await sharp(face.file)
    .resize(side, side)
    .toColourspace('srgb')
    .removeAlpha()
    .ensureAlpha()
    .composite([{ input: oval, blend: 'dest-in' }])
    .png()
    .toBuffer();
  return { png, width: side, height: side };
}

/** Where an image of w x h goes: a start inside the frame and a move of 30-70 px/s within it. */
function path(rng: Rng, w: number, h: number, seconds: number): Pick<Appearance, 'from' | 'to'> {
  const x0 = rng.int(W - w);
  const y0 = rng.int(H - h);
  const angle = rng.next() * 2 * Math.PI;
  const dist = (30 + rng.int(41)) * seconds;
  const clamp = (v: number, max: number) => Math.round(Math.min(max, Math.max(0, v)));
  return {
    from: [x0, y0],
    to: [clamp(x0 + Math.cos(angle) * dist, W - w), clamp(y0 + Math.sin(angle) * dist, H - h)],
  };
}

/**
 * Writes the video (H.264, 640x360, 10 fps) to `out`: the faces one after another, `seconds` each,
 * a new one every `seconds / 2` (so two are on screen at a time), over `background` with a little
 * sensor noise. Crops get faces of 40-120 px, photos are 150-230 px high.
 */
export async function writeStrangerVideo(
  faces: StrangerFace[],
  background: string,
  out: string,
  opts: { seconds?: number; seed?: number } = {},
): Promise<StrangerVideo> {
  const seconds = opts.seconds ?? 3;
  const rng = new Rng(opts.seed ?? 23);
  const args = ['-y', '-loglevel', 'error', '-loop', '1', '-framerate', String(FPS), '-i', background];
  const appearances: Appearance[] = [];
  const graph: string[] = [`[0:v]format=rgb24,noise=alls=6:allf=t[v0]`];
  for (const [i, face] of faces.entries()) {
    const side = face.kind === 'crop' ? Math.round((40 + rng.int(81)) / 0.66) : 150 + rng.int(81);
    const img = await pasted(face, side);
    const file = join(dirname(out), `face-${i}.png`);
    await sharp(img.png).toFile(file);
    const start = (i * seconds) / 2;
    const a: Appearance = {
      ...face,
      start,
      seconds,
      width: img.width,
      height: img.height,
      ...path(rng, img.width, img.height, seconds),
    };
    appearances.push(a);
    args.push('-loop', '1', '-framerate', String(FPS), '-i', file);
    const p = `(t-${start})/${seconds}`;
    const x = `${a.from[0]}+(${a.to[0] - a.from[0]})*${p}`;
    const y = `${a.from[1]}+(${a.to[1] - a.from[1]})*${p}`;
    graph.push(
      `[v${i}][${i + 1}:v]overlay=x='${x}':y='${y}':enable='between(t,${start},${start + seconds})'[v${i + 1}]`,
    );
  }
  const total = ((faces.length + 1) * seconds) / 2;
  execFileSync(
    resolveFfmpeg().path,
    args
      .concat(['-filter_complex', graph.join(';'), '-map', `[v${faces.length}]`, '-t', String(total)])
      .concat([
        '-r',
        String(FPS),
        '-pix_fmt',
        'yuv420p',
        '-c:v',
        'libx264',
        '-preset',
        'veryfast',
        '-crf',
        '23',
      ])
      .concat(['-g', String(FPS * 2), out]),
  );
  return { file: out, seconds: total, appearances };
}

/** Whether a box ([x1, y1, x2, y2]) lies on an appearance's way: its centre inside the area swept. */
export function onPath(a: Appearance, box: [number, number, number, number]): boolean {
  const cx = (box[0] + box[2]) / 2;
  const cy = (box[1] + box[3]) / 2;
  const left = Math.min(a.from[0], a.to[0]);
  const top = Math.min(a.from[1], a.to[1]);
  const right = Math.max(a.from[0], a.to[0]) + a.width;
  const bottom = Math.max(a.from[1], a.to[1]) + a.height;
  return cx >= left && cx <= right && cy >= top && cy <= bottom;
}
