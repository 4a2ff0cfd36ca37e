/**
 * Face alignment: a similarity transform (rotation, uniform scale, translation) that maps the
 * detector's keypoints (eyes, nose, mouth) onto a canonical template, then a bilinear warp of the
 * face into the embedding model's square input. Pure functions, no tensors.
 */

export type Point = [number, number];

/** x' = a*x - b*y + tx ; y' = b*x + a*y + ty */
export interface Similarity {
  a: number;
  b: number;
  tx: number;
  ty: number;
}

/**
 * Canonical positions (fractions of the crop side) of right eye, left eye (as BlazeFace orders them:
 * the eye on the image's left first), nose tip and mouth centre: the ArcFace 5-point template with
 * the two mouth corners merged. `context` > 1 zooms out around the template centre, keeping more of
 * the head (forehead, chin) in the crop.
 */
export function faceTemplate(context: number): Point[] {
  const base: Point[] = [
    [0.3419, 0.4616],
    [0.6565, 0.4598],
    [0.5003, 0.6405],
    [0.5, 0.8251],
  ];
  const cx = 0.5;
  const cy = 0.58;
  return base.map(([x, y]) => [cx + (x - cx) / context, cy + (y - cy) / context]);
}

/** Least-squares similarity transform taking `src` points onto `dst` points (Umeyama, 2-D). */
export function estimateSimilarity(src: Point[], dst: Point[]): Similarity {
  const n = Math.min(src.length, dst.length);
  if (n < 2) throw new Error('alignment needs at least two points');
  let sx = 0;
  let sy = 0;
  let dx = 0;
  let dy = 0;
  for (let i = 0; i < n; i++) {
    sx += (src[i] as Point)[0];
    sy += (src[i] as Point)[1];
    dx += (dst[i] as Point)[0];
    dy += (dst[i] as Point)[1];
  }
  sx /= n;
  sy /= n;
  dx /= n;
  dy /= n;
  let num1 = 0; // sum (xs*xd + ys*yd)
  let num2 = 0; // sum (xs*yd - ys*xd)
  let den = 0; // sum |s|^2
  for (let i = 0; i < n; i++) {
    const xs = (src[i] as Point)[0] - sx;
    const ys = (src[i] as Point)[1] - sy;
    const xd = (dst[i] as Point)[0] - dx;
    const yd = (dst[i] as Point)[1] - dy;
    num1 += xs * xd + ys * yd;
    num2 += xs * yd - ys * xd;
    den += xs * xs + ys * ys;
  }
  if (den === 0) throw new Error('alignment points are degenerate');
  const a = num1 / den;
  const b = num2 / den;
  return { a, b, tx: dx - (a * sx - b * sy), ty: dy - (b * sx + a * sy) };
}

export function applySimilarity(t: Similarity, [x, y]: Point): Point {
  return [t.a * x - t.b * y + t.tx, t.b * x + t.a * y + t.ty];
}

export function invertSimilarity(t: Similarity): Similarity {
  const d = t.a * t.a + t.b * t.b;
  const a = t.a / d;
  const b = -t.b / d;
  return { a, b, tx: -(a * t.tx - b * t.ty), ty: -(b * t.tx + a * t.ty) };
}

/** How the crop's pixels are written: RGB 0..255, or BGR minus a per-channel mean (Caffe style). */
export type PixelFormat = { order: 'rgb' | 'bgr'; mean: [number, number, number]; scale: number };
export const RGB_255: PixelFormat = { order: 'rgb', mean: [0, 0, 0], scale: 1 };

/**
 * Warps the face into a `size` x `size` crop with the transform `frame -> crop` (pixels), bilinear,
 * black outside the frame, written into `out` at `offset` in the model's pixel format.
 */
export function warpInto(
  rgb: Uint8Array,
  width: number,
  height: number,
  frameToCrop: Similarity,
  size: number,
  out: Float32Array,
  offset: number,
  fmt: PixelFormat = RGB_255,
): void {
  const inv = invertSimilarity(frameToCrop);
  const [m0, m1, m2] = fmt.mean;
  const bgr = fmt.order === 'bgr';
  let o = offset;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      // pixel centres
      const sx = inv.a * (x + 0.5) - inv.b * (y + 0.5) + inv.tx - 0.5;
      const sy = inv.b * (x + 0.5) + inv.a * (y + 0.5) + inv.ty - 0.5;
      let r = 0;
      let g = 0;
      let bl = 0;
      if (sx > -1 && sy > -1 && sx < width && sy < height) {
        const x0 = Math.floor(sx);
        const y0 = Math.floor(sy);
        const fx = sx - x0;
        const fy = sy - y0;
        const px = (xx: number, yy: number, c: number) =>
          xx < 0 || yy < 0 || xx >= width || yy >= height ? 0 : (rgb[(yy * width + xx) * 3 + c] as number);
        const w00 = (1 - fx) * (1 - fy);
        const w10 = fx * (1 - fy);
        const w01 = (1 - fx) * fy;
        const w11 = fx * fy;
        r =
          px(x0, y0, 0) * w00 +
          px(x0 + 1, y0, 0) * w10 +
          px(x0, y0 + 1, 0) * w01 +
          px(x0 + 1, y0 + 1, 0) * w11;
        g =
          px(x0, y0, 1) * w00 +
          px(x0 + 1, y0, 1) * w10 +
          px(x0, y0 + 1, 1) * w01 +
          px(x0 + 1, y0 + 1, 1) * w11;
        bl =
          px(x0, y0, 2) * w00 +
          px(x0 + 1, y0, 2) * w10 +
          px(x0, y0 + 1, 2) * w01 +
          px(x0 + 1, y0 + 1, 2) * w11;
      }
      const c0 = bgr ? bl : r;
      const c2 = bgr ? r : bl;
      out[o++] = (c0 - m0) * fmt.scale;
      out[o++] = (g - m1) * fmt.scale;
      out[o++] = (c2 - m2) * fmt.scale;
    }
  }
}

/** The frame -> crop transform from the detector's first four keypoints. */
export function alignTransform(landmarks: Point[], size: number, context: number): Similarity {
  const tpl = faceTemplate(context).map(([x, y]) => [x * size, y * size] as Point);
  return estimateSimilarity(landmarks.slice(0, 4), tpl);
}

/**
 * Without alignment: the detector's box, squared around its centre and enlarged by `context`
 * (no rotation), scaled to the crop.
 */
export function boxTransform(
  box: [number, number, number, number],
  size: number,
  context: number,
): Similarity {
  const cx = (box[0] + box[2]) / 2;
  const cy = (box[1] + box[3]) / 2;
  const side = Math.max(box[2] - box[0], box[3] - box[1]) * context;
  const a = size / side;
  return { a, b: 0, tx: size / 2 - a * cx, ty: size / 2 - a * cy };
}
