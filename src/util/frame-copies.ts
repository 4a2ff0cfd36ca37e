/**
 * Copies of frame pixels made on the main thread, counted where they happen. The main thread runs
 * every stream's sockets and the chain; a copy of a 640x360 frame is 691 kB of memory traffic, so
 * each one is counted (exported as `vigil_frame_copies_total{site}`, read by tests and benchmarks).
 * Worker threads have their own instance of this module: their copies are not counted, by design.
 */

/** Where a frame's pixels were copied (the label values of vigil_frame_copies_total). */
export const FRAME_COPY_SITES = [
  /** An image not on a SharedArrayBuffer (an upload, a file) copied for a worker (util/rgb.ts shared). */
  'worker_dispatch',
  /** A stylised frame blended with the original on the main thread (the style task blends in its worker). */
  'style_blend',
  /** A render was made writable (annotate burn-in, redact) by copying the frame's pixels. */
  'copy_on_write',
] as const;
export type FrameCopySite = (typeof FRAME_COPY_SITES)[number];

const counts = new Map<FrameCopySite, number>();

export function countFrameCopy(site: FrameCopySite, n = 1): void {
  counts.set(site, (counts.get(site) ?? 0) + n);
}

/** Copies so far, per site (sites never hit are absent). */
export function frameCopies(): Partial<Record<FrameCopySite, number>> {
  return Object.fromEntries(counts);
}

/** Total copies so far, all sites. */
export function totalFrameCopies(): number {
  let n = 0;
  for (const v of counts.values()) n += v;
  return n;
}
