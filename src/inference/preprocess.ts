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

/**
 * Square tiles along the frame's long side, overlapping evenly, plus nothing else: `n` = 1 gives
 * the whole frame. Small faces get `n` times more detector pixels.
 */
export function tileRects(width: number, height: number, n: number): Rect[] {
  if (n <= 1) return [{ x: 0, y: 0, w: width, h: height }];
  const landscape = width >= height;
  const side = Math.min(width, height);
  const long = landscape ? width : height;
  const span = Math.max(side, Math.ceil(long / n) + Math.round(side * 0.15));
  const tile = Math.min(long, Math.max(side, span));
  const step = n > 1 ? (long - tile) / (n - 1) : 0;
  const out: Rect[] = [];
  for (let i = 0; i < n; i++) {
    const o = Math.round(i * step);
    out.push(landscape ? { x: o, y: 0, w: tile, h: height } : { x: 0, y: o, w: width, h: tile });
  }
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
