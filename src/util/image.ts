/** Still images: decoding uploads and files to RGB24, and JPEG crops of regions (sharp). */
import sharp, { type Metadata } from 'sharp';
import type { RgbImage } from './rgb.js';

/** A rejected upload: the message says what is wrong; `status` is the HTTP status to answer with. */
export class ImageError extends Error {
  constructor(
    message: string,
    readonly status = 422,
  ) {
    super(message);
    this.name = 'ImageError';
  }
}

export interface DecodeOptions {
  /** Refuse images with more pixels than this (before any resize). */
  maxPixels?: number;
  /** Downscale so the longer side is at most this. */
  maxSide?: number;
}

export const DEFAULT_DECODE: Required<DecodeOptions> = { maxPixels: 40_000_000, maxSide: 1600 };

/** Decodes an uploaded image (JPEG, PNG, WebP, ...) to RGB24, EXIF-rotated and bounded in size. */
export async function decodeImage(input: Buffer | string, opts: DecodeOptions = {}): Promise<RgbImage> {
  const { maxPixels, maxSide } = { ...DEFAULT_DECODE, ...opts };
  if (Buffer.isBuffer(input) && input.length === 0) throw new ImageError('empty image', 400);
  let meta: Metadata;
  try {
    meta = await sharp(input, { limitInputPixels: false }).metadata();
  } catch (e) {
    throw new ImageError(
      `not a readable image: ${(e as Error).message.replace(/^Input (buffer|file) /, '')}`,
    );
  }
  if (!meta.width || !meta.height) throw new ImageError('not a readable image: no dimensions');
  if (meta.width * meta.height > maxPixels) {
    throw new ImageError(
      `image too large: ${meta.width}x${meta.height} is ${((meta.width * meta.height) / 1e6).toFixed(0)} megapixels, the limit is ${(maxPixels / 1e6).toFixed(0)}`,
      413,
    );
  }
  try {
    const { data, info } = await sharp(input, { limitInputPixels: maxPixels, failOn: 'truncated' })
      .rotate()
      .resize({ width: maxSide, height: maxSide, fit: 'inside', withoutEnlargement: true })
      .removeAlpha()
      .toColorspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new ImageError(`unsupported image: ${info.channels} channels`);
    return {
      width: info.width,
      height: info.height,
      pixels: new Uint8Array(data.buffer, data.byteOffset, data.length),
    };
  } catch (e) {
    if (e instanceof ImageError) throw e;
    throw new ImageError(`cannot decode image: ${(e as Error).message}`);
  }
}

/** The region a face crop takes: the box plus `margin` of its size on each side, clipped to the image. */
export function cropRect(
  img: Pick<RgbImage, 'width' | 'height'>,
  box: [number, number, number, number],
  margin: number,
) {
  const w = box[2] - box[0];
  const h = box[3] - box[1];
  const left = Math.max(0, Math.floor(box[0] - w * margin));
  const top = Math.max(0, Math.floor(box[1] - h * margin));
  const right = Math.min(img.width, Math.ceil(box[2] + w * margin));
  const bottom = Math.min(img.height, Math.ceil(box[3] + h * margin));
  return { left, top, width: Math.max(1, right - left), height: Math.max(1, bottom - top) };
}

/** A JPEG of a region of an RGB image (face snapshots and thumbnails). */
export async function cropJpeg(
  img: RgbImage,
  box: [number, number, number, number],
  opts: { margin?: number; size?: number; quality?: number } = {},
): Promise<Buffer> {
  const rect = cropRect(img, box, opts.margin ?? 0.25);
  return sharp(img.pixels, { raw: { width: img.width, height: img.height, channels: 3 } })
    .extract(rect)
    .resize({ width: opts.size ?? 160, height: opts.size ?? 160, fit: 'inside' })
    .jpeg({ quality: opts.quality ?? 85 })
    .toBuffer();
}
