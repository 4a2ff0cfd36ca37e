import sharp from 'sharp';

/** RGB24 -> JPEG with sharp (libjpeg-turbo, in libuv's thread pool: the event loop stays free). */
export function encodeJpeg(rgb: Uint8Array, width: number, height: number, quality: number): Promise<Buffer> {
  return sharp(rgb, { raw: { width, height, channels: 3 } })
    .jpeg({ quality, chromaSubsampling: '4:2:0' })
    .toBuffer();
}
