/**
 * The one RGB buffer type: RGB24, row-major, no padding (width * height * 3 bytes). Decoded frames
 * (src/sources/frame.ts), still images (src/util/image.ts) and what workers get all use it; frames
 * of the live path have their pixels on a SharedArrayBuffer, so workers read them without a copy.
 */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  readonly pixels: Uint8Array;
}
