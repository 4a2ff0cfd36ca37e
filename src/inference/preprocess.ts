/** How a frame was placed into a square model input: frame = input / scale - pad. */
export interface Letterbox {
  scale: number;
  padX: number;
  padY: number;
}

/** A region of the frame (tiling); the whole frame when absent. */
export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Share of a tile that overlaps its neighbour: a face narrower than this lies whole in some tile. */
export const TILE_OVERLAP = 0.25;

/**
 * An overlapping grid of square tiles: `n` columns along the frame's long side, as many rows along
 * the short side as it takes to cover it with the same overlap (n = 1: the whole frame, alone).
 * Each tile is letterboxed into the model's input on its own, so a face gets about
 * n - (n - 1) * TILE_OVERLAP times more detector pixels than on the whole frame. The tiles
 * overlap by TILE_OVERLAP of their side, so any face up to that size lies whole inside one tile;
 * larger ones are left to a whole-frame pass (detect-task.ts).
 */
export function tileRects(width: number, height: number, n: number): Rect[] {
  if (n <= 1) return [{ x: 0, y: 0, w: width, h: height }];
  const long = Math.max(width, height);
  // square, unless the frame's short side is shorter than that (then the full short side)
  const side = Math.ceil(long / (n - (n - 1) * TILE_OVERLAP));
  const overlap = side * TILE_OVERLAP;
  const across = (extent: number) =>
    extent <= side ? 1 : Math.ceil((extent - overlap) / (side - overlap) - 1e-9);
  const place = (extent: number, count: number) =>
    Array.from({ length: count }, (_, i) =>
      count > 1 ? Math.round((i * (extent - side)) / (count - 1)) : 0,
    );
  const xs = place(width, across(width));
  const ys = place(height, across(height));
  const out: Rect[] = [];
  for (const y of ys)
    for (const x of xs) out.push({ x, y, w: Math.min(side, width), h: Math.min(side, height) });
  return out;
}

/**
 * Letterboxes an RGB24 frame into a `size` x `size` float32 tensor (bilinear, centred, black border),
 * normalised as `px * mul + add` (BlazeFace: px / 127.5 - 1). Writes into `out` at `offset` so a batch
 * is filled in place. Pure JS, one pass: cheaper than building a full-size tensor and resizing it.
 */
export function letterboxInto(
  rgb: Uint8Array,
  width: number,
  height: number,
  size: number,
  out: Float32Array,
  offset = 0,
  mul = 1 / 127.5,
  add = -1,
  rect?: Rect,
): Letterbox {
  // A tile is letterboxed as an image of its own, reading the frame with an offset.
  const rx = rect?.x ?? 0;
  const ry = rect?.y ?? 0;
  const fullW = width;
  if (rect) {
    width = rect.w;
    height = rect.h;
  }
  const side = Math.max(width, height);
  const scale = size / side;
  const padX = (side - width) / 2;
  const padY = (side - height) / 2;
  const inv = 1 / scale;
  const border = add; // black (0) after normalisation
  const wMax = width - 1;
  const hMax = height - 1;
  let o = offset;
  for (let oy = 0; oy < size; oy++) {
    const sy = (oy + 0.5) * inv - 0.5 - padY;
    if (sy < -0.5 || sy > hMax + 0.5) {
      out.fill(border, o, o + size * 3);
      o += size * 3;
      continue;
    }
    const y0 = Math.max(0, Math.min(hMax, Math.floor(sy)));
    const y1 = Math.min(hMax, y0 + 1);
    const fy = Math.max(0, Math.min(1, sy - y0));
    const r0 = ((y0 + ry) * fullW + rx) * 3;
    const r1 = ((y1 + ry) * fullW + rx) * 3;
    for (let ox = 0; ox < size; ox++) {
      const sx = (ox + 0.5) * inv - 0.5 - padX;
      if (sx < -0.5 || sx > wMax + 0.5) {
        out[o++] = border;
        out[o++] = border;
        out[o++] = border;
        continue;
      }
      const x0 = Math.max(0, Math.min(wMax, Math.floor(sx)));
      const x1 = Math.min(wMax, x0 + 1);
      const fx = Math.max(0, Math.min(1, sx - x0));
      const a = r0 + x0 * 3;
      const b = r0 + x1 * 3;
      const c = r1 + x0 * 3;
      const d = r1 + x1 * 3;
      for (let ch = 0; ch < 3; ch++) {
        const top = (rgb[a + ch] as number) + ((rgb[b + ch] as number) - (rgb[a + ch] as number)) * fx;
        const bot = (rgb[c + ch] as number) + ((rgb[d + ch] as number) - (rgb[c + ch] as number)) * fx;
        out[o++] = (top + (bot - top) * fy) * mul + add;
      }
    }
  }
  return { scale, padX: padX - rx, padY: padY - ry };
}

/** Maps a point of the model input back to frame pixels. */
export function unletterbox(lb: Letterbox, x: number, y: number): [number, number] {
  return [x / lb.scale - lb.padX, y / lb.scale - lb.padY];
}
