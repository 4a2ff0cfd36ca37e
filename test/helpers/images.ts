import { join } from 'node:path';
import sharp from 'sharp';
import { packageRoot } from '../../src/util/packages.js';
import type { RgbImage } from '../../src/util/rgb.js';

/** The sample photos with faces that ship in @vladmandic/face-api (the demo source uses them too). */
export function samplePhoto(n: number): string {
  return join(packageRoot('@vladmandic/face-api'), 'demo', `sample${n}.jpg`);
}

/** Decodes an image to RGB24, resized to fit `width` x `height` (letterboxed, like ffmpeg does). */
export async function rgbFrame(file: string, width: number, height: number): Promise<RgbImage> {
  const { data, info } = await sharp(file)
    .resize(width, height, { fit: 'contain', background: { r: 0, g: 0, b: 0 } })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return {
    width: info.width,
    height: info.height,
    pixels: new Uint8Array(data.buffer, data.byteOffset, data.length),
  };
}
