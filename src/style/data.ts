/**
 * Images for style training and transfer: the style painting (validated: a readable image, at least
 * 64 px on its short side, at most 40 megapixels) and a content set gathered from folders of images,
 * image files and video files (sampled with ffmpeg), held in memory at a fixed short side for random crops.
 */
import { readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import sharp from 'sharp';
import { decodeImage, ImageError } from '../util/image.js';
import type { RgbImage } from '../util/rgb.js';
import type { Rng } from '../util/rng.js';
import { decodeVideoFrames } from '../sources/video-frames.js';

export const MIN_STYLE_SIDE = 64;
export const MAX_STYLE_PIXELS = 40_000_000;

const IMAGE_EXT = new Set([
  '.jpg',
  '.jpeg',
  '.png',
  '.webp',
  '.bmp',
  '.tif',
  '.tiff',
  '.pgm',
  '.ppm',
  '.gif',
]);
const VIDEO_EXT = new Set(['.mp4', '.mkv', '.mov', '.avi', '.webm', '.ts', '.m4v']);

/** Reads a style (or content) image: clear errors for non-images, tiny and huge ones. */
export async function readStyleImage(file: string, maxSide = 1024, what = 'style image'): Promise<RgbImage> {
  let img: RgbImage;
  try {
    img = await decodeImage(file, { maxPixels: MAX_STYLE_PIXELS, maxSide });
  } catch (e) {
    if (e instanceof ImageError) throw new ImageError(`${what} ${file}: ${e.message}`);
    throw new Error(`${what} ${file}: ${(e as Error).message}`);
  }
  const meta = await sharp(file).metadata();
  const short = Math.min(meta.width ?? img.width, meta.height ?? img.height);
  if (short < MIN_STYLE_SIDE)
    throw new ImageError(
      `${what} ${file}: too small (${meta.width}x${meta.height}); the short side must be at least ${MIN_STYLE_SIDE} px`,
    );
  return img;
}

/** Files under the given paths: images and videos, recursively, sorted. */
export function gatherContent(paths: string[]): { images: string[]; videos: string[] } {
  const images: string[] = [];
  const videos: string[] = [];
  const walk = (p: string) => {
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(p);
    } catch {
      throw new Error(`content: ${p} does not exist`);
    }
    if (st.isDirectory()) {
      for (const f of readdirSync(p).sort()) walk(join(p, f));
      return;
    }
    const ext = extname(p).toLowerCase();
    if (IMAGE_EXT.has(ext)) images.push(p);
    else if (VIDEO_EXT.has(ext)) videos.push(p);
  };
  for (const p of paths) walk(p);
  return { images, videos };
}

/** An image with its short side scaled to `side` (never below: smaller images are upscaled). */
async function atShortSide(
  file: string | Buffer,
  side: number,
  raw?: { width: number; height: number },
): Promise<RgbImage> {
  const s = raw ? sharp(file, { raw: { ...raw, channels: 3 } }) : sharp(file).rotate();
  const { data, info } = await s
    .resize({ width: side, height: side, fit: 'outside' })
    .removeAlpha()
    .toColorspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  return {
    width: info.width,
    height: info.height,
    pixels: new Uint8Array(data.buffer, data.byteOffset, data.length),
  };
}

/** The content set in memory, each image with its short side at `side` (>= the crop size). */
export async function loadContent(
  paths: string[],
  side: number,
  opts: { maxImages?: number; videoFps?: number; log?: (m: string) => void } = {},
): Promise<RgbImage[]> {
  const { images, videos } = gatherContent(paths);
  const max = opts.maxImages ?? 1000;
  const out: RgbImage[] = [];
  for (const f of images.slice(0, max)) {
    try {
      out.push(await atShortSide(f, side));
    } catch (e) {
      opts.log?.(`content: skipping ${f}: ${(e as Error).message}`);
    }
  }
  for (const v of videos) {
    for (const fr of decodeVideoFrames(v, {
      fps: opts.videoFps ?? 1,
      maxFrames: max,
      width: Math.max(side * 2, 512),
    }))
      out.push(await atShortSide(Buffer.from(fr.pixels), side, { width: fr.width, height: fr.height }));
  }
  if (out.length === 0) throw new Error(`content: no readable images or videos under ${paths.join(', ')}`);
  return out;
}

/** A random size x size crop (and random horizontal flip) of a random content image, as float RGB. */
export function randomCrop(
  set: RgbImage[],
  size: number,
  rng: Rng,
  into: Float32Array,
  offset: number,
): void {
  const img = set[rng.int(set.length)] as RgbImage;
  const x0 = rng.int(img.width - size + 1);
  const y0 = rng.int(img.height - size + 1);
  const flip = rng.next() < 0.5;
  let o = offset;
  for (let y = 0; y < size; y++) {
    const row = (y0 + y) * img.width;
    for (let x = 0; x < size; x++) {
      const sx = flip ? x0 + size - 1 - x : x0 + x;
      const i = (row + sx) * 3;
      into[o++] = img.pixels[i] as number;
      into[o++] = img.pixels[i + 1] as number;
      into[o++] = img.pixels[i + 2] as number;
    }
  }
}
