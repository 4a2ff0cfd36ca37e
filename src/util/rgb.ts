/**
 * The one RGB buffer type: RGB24, row-major, no padding (width * height * 3 bytes). Decoded frames
 * (src/sources/frame.ts), still images (src/util/image.ts) and what workers get all use it; frames
 * of the live path have their pixels on a SharedArrayBuffer, so workers read them without a copy.
 */
import { countFrameCopy } from './frame-copies.js';

export interface RgbImage {
  readonly width: number;
  readonly height: number;
  readonly pixels: Uint8Array;
}

/** True when the pixels sit on a SharedArrayBuffer (workers read them without a copy). */
export function isShared(img: RgbImage): boolean {
  return img.pixels.buffer instanceof SharedArrayBuffer;
}

/**
 * The image as it crosses to a worker: width, height and a view on shared pixels. Pooled frames are
 * shared already (sources/frame.ts); other images (uploads, files) are copied once, and counted.
 */
export function shared(img: RgbImage): RgbImage {
  if (isShared(img)) return { width: img.width, height: img.height, pixels: img.pixels };
  countFrameCopy('worker_dispatch');
  const pixels = new Uint8Array(new SharedArrayBuffer(img.pixels.byteLength));
  pixels.set(img.pixels);
  return { width: img.width, height: img.height, pixels };
}
