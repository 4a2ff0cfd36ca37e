/**
 * Copies of frame pixels made on the main thread, counted where they happen. The main thread runs
 * every stream's sockets and the chain; a copy of a 640x360 frame is 691 kB of memory traffic, so
 * each one is counted (exported as `vigil_frame_copies_total{site}`, read by tests and benchmarks).
 * Worker threads have their own instance of this module: their copies are not counted, by design.
 */

/** Where a frame's pixels were copied. */
export type FrameCopySite =
  /** Frames copied into the message to an inference worker (detect, embed). */
  | 'inference_dispatch'
  /** A frame copied into the message to a style worker. */
  | 'style_dispatch'
  /** A stylised frame blended with the original (strength < 1) on the main thread. */
  | 'style_blend'
  /** A render was made writable (annotate burn-in, redact) by copying the frame's pixels. */
  | 'copy_on_write';

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
