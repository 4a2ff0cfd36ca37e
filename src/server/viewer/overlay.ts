// What a tile's overlay canvas shows: each detection's box, landmarks and label (name, similarity,
// track id), labels placed where no other label is, drawn at the canvas's on-screen resolution.
import type { Detection, FrameHeader } from './protocol.js';

const COLOR = { known: '#22c55e', unknown: '#f59e0b', uncertain: '#94a3b8', face: '#38bdf8' };

/** Draws the detections of `h` on `g` (sized cw x ch device px); `viewWidth` in CSS px sets the font. */
export function drawDetections(
  g: CanvasRenderingContext2D,
  h: FrameHeader,
  cw: number,
  ch: number,
  viewWidth: number,
  dpr: number,
): void {
  const sx = cw / h.width;
  const sy = ch / h.height;
  const fontPx = Math.round(Math.max(11, Math.min(14, viewWidth / 40)) * dpr);
  g.font = `600 ${fontPx}px system-ui, -apple-system, "Segoe UI", sans-serif`;
  g.textBaseline = 'middle';
  const placed: Rect[] = [];
  for (const d of h.detections) drawDetection(g, d, sx, sy, dpr, fontPx, placed);
}

function labelOf(d: Detection): { text: string; color: string } {
  const track = d.trackId !== undefined ? `  #${d.trackId}` : '';
  if (d.label === undefined)
    return {
      text: d.trackId !== undefined ? `face${track}` : `face ${d.score.toFixed(2)}`,
      color: COLOR.face,
    };
  const sim = d.similarity !== undefined && d.similarity > 0 ? ` ${d.similarity.toFixed(2)}` : '';
  // uncertain (near misses, poor looks): grey, "?" — shown so the operator sees it, never alerted
  if (d.outcome === 'uncertain') return { text: `?${sim}${track}`, color: COLOR.uncertain };
  return { text: `${d.label}${sim}${track}`, color: d.label === 'unknown' ? COLOR.unknown : COLOR.known };
}

type Rect = { x: number; y: number; w: number; h: number };
const overlaps = (a: Rect, b: Rect) =>
  a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

function drawDetection(
  g: CanvasRenderingContext2D,
  d: Detection,
  sx: number,
  sy: number,
  dpr: number,
  fontPx: number,
  placed: Rect[],
): void {
  const { text, color } = labelOf(d);
  const [x1, y1, x2, y2] = d.box;
  const x = Math.round(x1 * sx) + 0.5;
  const y = Math.round(y1 * sy) + 0.5;
  const w = Math.round((x2 - x1) * sx);
  const h = Math.round((y2 - y1) * sy);
  g.lineWidth = 2 * dpr;
  g.strokeStyle = color;
  g.strokeRect(x, y, w, h);
  if (d.landmarks?.length) {
    g.fillStyle = color;
    for (const [lx, ly] of d.landmarks) {
      g.beginPath();
      g.arc(lx * sx, ly * sy, 1.6 * dpr, 0, Math.PI * 2);
      g.fill();
    }
  }
  const padX = 5 * dpr;
  const lh = fontPx + 6 * dpr;
  const tw = g.measureText(text).width + padX * 2;
  // above the box, else below it, else inside its top edge: the first place no other label took
  const lx = Math.min(x - dpr, g.canvas.width - tw);
  const spots = [y - lh, y + h, y].filter((v) => v >= 0 && v + lh <= g.canvas.height);
  const free = spots.find((v) => !placed.some((r) => overlaps(r, { x: lx, y: v, w: tw, h: lh })));
  const ly = free ?? spots[0] ?? Math.max(0, y - lh);
  placed.push({ x: lx, y: ly, w: tw, h: lh });
  g.fillStyle = color;
  g.fillRect(lx, ly, tw, lh);
  g.fillStyle = '#0b0d10';
  g.fillText(text, lx + padX, ly + lh / 2 + 0.5);
}
