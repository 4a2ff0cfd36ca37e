import sharp from 'sharp';
import type { Detection } from '../inference/contract.js';

export type Rgb = [number, number, number];

/** Draws a rectangle outline into an RGB24 buffer, clipped to the frame. */
export function drawRect(
  rgb: Uint8Array,
  w: number,
  h: number,
  box: Detection['box'],
  color: Rgb,
  thickness = 2,
): void {
  const x1 = Math.max(0, Math.round(box[0]));
  const y1 = Math.max(0, Math.round(box[1]));
  const x2 = Math.min(w - 1, Math.round(box[2]));
  const y2 = Math.min(h - 1, Math.round(box[3]));
  if (x2 < x1 || y2 < y1) return;
  const fill = (xa: number, ya: number, xb: number, yb: number) => {
    for (let y = Math.max(0, ya); y <= Math.min(h - 1, yb); y++) {
      let o = (y * w + Math.max(0, xa)) * 3;
      for (let x = Math.max(0, xa); x <= Math.min(w - 1, xb); x++) {
        rgb[o++] = color[0];
        rgb[o++] = color[1];
        rgb[o++] = color[2];
      }
    }
  };
  const t = thickness - 1;
  fill(x1, y1, x2, y1 + t);
  fill(x1, y2 - t, x2, y2);
  fill(x1, y1, x1 + t, y2);
  fill(x2 - t, y1, x2, y2);
}

/** A small filled square at each keypoint. */
export function drawPoints(
  rgb: Uint8Array,
  w: number,
  h: number,
  pts: Array<[number, number]>,
  color: Rgb,
  r = 1,
): void {
  for (const [px, py] of pts) drawRect(rgb, w, h, [px - r, py - r, px + r, py + r], color, r + 1);
}

export interface Glyph {
  width: number;
  height: number;
  /** RGBA */
  data: Buffer;
}

/**
 * Renders label text once per distinct string (sharp/librsvg, ~25 ms) and caches the bitmap, so
 * burning labels into frames costs a blit, not a text render per frame.
 */
export class LabelCache {
  private readonly cache = new Map<string, Promise<Glyph>>();

  constructor(private readonly max = 512) {}

  get(text: string, bg: Rgb): Promise<Glyph> {
    const key = `${bg.join(',')}|${text}`;
    let g = this.cache.get(key);
    if (g) {
      this.cache.delete(key);
      this.cache.set(key, g); // LRU: most recent last
      return g;
    }
    g = renderLabel(text, bg);
    this.cache.set(key, g);
    if (this.cache.size > this.max) this.cache.delete(this.cache.keys().next().value as string);
    return g;
  }
}

const escapeXml = (s: string) => s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);

async function renderLabel(text: string, bg: Rgb): Promise<Glyph> {
  const height = 18;
  const width = Math.max(8, Math.ceil(text.length * 8.4) + 8);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="100%" height="100%" fill="rgb(${bg.join(',')})"/><text x="4" y="14" font-family="DejaVu Sans, sans-serif" font-size="13" fill="#000">${escapeXml(text)}</text></svg>`;
  const { data, info } = await sharp(Buffer.from(svg))
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data };
}

/** Alpha-blends an RGBA glyph into an RGB24 frame at (x, y), clipped. */
export function blit(rgb: Uint8Array, w: number, h: number, g: Glyph, x: number, y: number): void {
  const x0 = Math.round(x);
  const y0 = Math.round(y);
  for (let gy = 0; gy < g.height; gy++) {
    const fy = y0 + gy;
    if (fy < 0 || fy >= h) continue;
    for (let gx = 0; gx < g.width; gx++) {
      const fx = x0 + gx;
      if (fx < 0 || fx >= w) continue;
      const s = (gy * g.width + gx) * 4;
      const a = (g.data[s + 3] as number) / 255;
      const d = (fy * w + fx) * 3;
      for (let c = 0; c < 3; c++)
        rgb[d + c] = Math.round((g.data[s + c] as number) * a + (rgb[d + c] as number) * (1 - a));
    }
  }
}

export const COLOR_KNOWN: Rgb = [0, 200, 83];
export const COLOR_UNKNOWN: Rgb = [255, 171, 0];

/** The text drawn above a detection: its label (or "face") and its score. */
export function labelText(d: Detection): string {
  return `${d.label ?? 'face'} ${d.score.toFixed(2)}`;
}

/**
 * Burns boxes, keypoints and labels into `rgb` in place (the caller passes a buffer of its own: the
 * frame itself is shared with recognition and must not change).
 */
export async function drawDetections(
  rgb: Uint8Array,
  w: number,
  h: number,
  dets: Detection[],
  labels: LabelCache,
): Promise<void> {
  if (!dets.length) return;
  const glyphs = await Promise.all(
    dets.map((d) => labels.get(labelText(d), d.label === 'unknown' ? COLOR_UNKNOWN : COLOR_KNOWN)),
  );
  dets.forEach((d, i) => {
    const color = d.label === 'unknown' ? COLOR_UNKNOWN : COLOR_KNOWN;
    drawRect(rgb, w, h, d.box, color, 2);
    drawPoints(rgb, w, h, d.landmarks, color, 1);
    const g = glyphs[i] as Glyph;
    const ly = d.box[1] - g.height >= 0 ? d.box[1] - g.height : d.box[3];
    blit(rgb, w, h, g, d.box[0], ly);
  });
}
