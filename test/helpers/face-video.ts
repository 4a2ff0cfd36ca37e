/**
 * A CCTV-like video made of real labelled face images (../shared/data): scenes of a 2x2 grid, each
 * cell showing one face image — a face crop scaled to a small size at a random place in its cell, or
 * an uncropped photo fitted to the cell — held for a few seconds, then the next scene. Every face
 * of every scene is a new face for the tracker, so a recognize pipeline raises one unknown-face
 * alert per face shown: far more distinct alerts than one short real clip gives.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { resolveFfmpeg } from '../../src/sources/ffmpeg.js';
import { Rng } from '../../src/util/rng.js';

export interface FaceVideoItem {
  /** Image file. */
  file: string;
  /** "crop": a face crop, scaled to a small face; "photo": an uncropped photo, fitted to its cell. */
  kind: 'crop' | 'photo';
  /** Photos: the fraction of the cell the photo is fitted to (1: the whole cell). */
  scale?: number;
}

export interface FaceVideo {
  file: string;
  seconds: number;
  faces: number;
  scenes: number;
}

/** Every image of each identity folder under `dir`, at most `perIdentity` of each, identities interleaved. */
export function labelledImages(dir: string, kind: FaceVideoItem['kind'], perIdentity = 99): FaceVideoItem[] {
  const ids = readdirSync(dir).sort();
  const lists = ids.map((id) =>
    readdirSync(join(dir, id))
      .filter((f) => /\.(jpe?g|png|pgm)$/i.test(f))
      .sort()
      .slice(0, perIdentity)
      .map((f) => ({ file: join(dir, id, f), kind })),
  );
  const out: FaceVideoItem[] = [];
  for (let i = 0; lists.some((l) => i < l.length); i++) for (const l of lists) if (l[i]) out.push(l[i]);
  return out;
}

async function cellImage(item: FaceVideoItem, cellW: number, cellH: number, rng: Rng) {
  if (item.kind === 'photo') {
    const scale = item.scale ?? 1;
    const img = await sharp(item.file)
      .rotate()
      .resize({
        width: Math.round((cellW - 8) * scale),
        height: Math.round((cellH - 8) * scale),
        fit: 'inside',
      })
      .removeAlpha()
      .png()
      .toBuffer({ resolveWithObject: true });
    return { input: img.data, w: img.info.width, h: img.info.height };
  }
  // CCTV-sized faces: the 150 px crops at 64-112 px
  const side = 64 + rng.int(49);
  const img = await sharp(item.file).resize(side, side).removeAlpha().toColourspace('srgb').png().toBuffer();
  return { input: img, w: side, h: side };
}

/**
 * Writes the video (H.264, `fps`, width x height) to `out` and returns what it shows. Faces of one
 * scene are in different cells; a face's cell and place change from one scene to the next.
 */
export async function writeFaceVideo(
  items: FaceVideoItem[],
  out: string,
  opts: { width?: number; height?: number; fps?: number; sceneSeconds?: number; seed?: number } = {},
): Promise<FaceVideo> {
  const width = opts.width ?? 640;
  const height = opts.height ?? 360;
  const sceneSeconds = opts.sceneSeconds ?? 2.5;
  const rng = new Rng(opts.seed ?? 19);
  const [cellW, cellH] = [width / 2, height / 2];
  const scenes: string[] = [];
  for (let s = 0; s * 4 < items.length; s++) {
    const layers: sharp.OverlayOptions[] = [];
    for (const [c, item] of items.slice(s * 4, s * 4 + 4).entries()) {
      const cell = (c + s) % 4; // the same slot of the list lands in another cell next scene
      const im = await cellImage(item, cellW, cellH, rng);
      const left = (cell % 2) * cellW + rng.int(Math.max(1, cellW - im.w));
      const top = Math.floor(cell / 2) * cellH + rng.int(Math.max(1, cellH - im.h));
      layers.push({ input: im.input, left: Math.round(left), top: Math.round(top) });
    }
    const png = join(dirname(out), `scene-${s}.png`);
    await sharp({ create: { width, height, channels: 3, background: { r: 72, g: 76, b: 82 } } })
      .composite(layers)
      .png()
      .toFile(png);
    scenes.push(png);
  }
  const list = join(dirname(out), 'scenes.txt');
  // the concat demuxer needs the last file twice for its duration to count
  const lines = scenes.flatMap((p) => [`file '${p}'`, `duration ${sceneSeconds}`]);
  writeFileSync(list, `${[...lines, `file '${scenes.at(-1)}'`].join('\n')}\n`);
  execFileSync(
    resolveFfmpeg().path,
    ['-y', '-loglevel', 'error', '-f', 'concat', '-safe', '0', '-i', list]
      .concat(['-vf', `fps=${opts.fps ?? 10},format=yuv420p`, '-c:v', 'libx264', '-preset', 'veryfast'])
      .concat(['-crf', '28', '-g', String((opts.fps ?? 10) * 2), out]),
  );
  return { file: out, seconds: scenes.length * sceneSeconds, faces: items.length, scenes: scenes.length };
}

/**
 * More cameras on one real clip: the clip itself, mirrored, and each quarter of it zoomed 2x (a
 * closer camera with a digital zoom: the audience's small faces at twice the size, as soft as a
 * zoomed CCTV picture). Each is a file of its own (H.264, 640x360).
 */
export function clipViews(clip: string, dir: string): Array<{ id: string; file: string }> {
  const views: Array<[string, string]> = [
    ['stage', 'scale=640:360'],
    ['mirror', 'hflip,scale=640:360'],
    ...[0, 1].flatMap((y) =>
      [0, 1].map((x): [string, string] => [
        `zoom${y}${x}`,
        `crop=iw/2:ih/2:${x}*iw/2:${y}*ih/2,scale=640:360`,
      ]),
    ),
  ];
  return views.map(([id, vf]) => {
    const file = join(dir, `${id}.mp4`);
    execFileSync(
      resolveFfmpeg().path,
      ['-y', '-loglevel', 'error', '-i', clip, '-an', '-vf', vf].concat([
        '-c:v',
        'libx264',
        '-preset',
        'veryfast',
        '-crf',
        '23',
        file,
      ]),
    );
    return { id, file };
  });
}
