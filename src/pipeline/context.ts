/**
 * What travels the stage chain: one FrameContext per frame and purpose, in the manner of
 * DeepStream's batch meta. The head (mux) makes a context for each decoded frame that is due for
 * inference or for the viewers; each stage reads and adds to it; the tail releases it.
 */
import type { Outcome } from '../faces/outcome.js';
import type { Detection } from '../inference/contract.js';
import type { Frame } from '../sources/frame.js';
import { countFrameCopy } from '../util/frame-copies.js';

/** A detection after tracking and recognition (the recognize stage fills the optional fields). */
export interface TrackedDetection extends Detection {
  trackId?: number;
  /** A person's name, "unknown", "uncertain", or undefined while the track is not recognised yet. */
  label?: string;
  personId?: number | null;
  similarity?: number;
  /** What the track is on its evidence so far (undefined: not recognised yet). */
  outcome?: Outcome;
}

/** A track's identity decided on one frame by the recognize stage (alerts read these). */
export interface Recognition {
  trackId: number;
  box: Detection['box'];
  /** The detector's keypoints of the face embedded (frame pixels). */
  landmarks: Detection['landmarks'];
  label: string;
  personId: number | null;
  similarity: number;
  /** What the track is on its evidence (faces/outcome.ts): only named and unknown tracks alert. */
  outcome: Outcome;
  /** This look alone matched nobody (the track may still carry a name). */
  lookUnknown: boolean;
  /** Good looks of this track that matched nobody clearly (not near misses) so far. */
  unknownLooks: number;
  embedding: Float32Array;
}

/** One picture of the frame for the viewers: the original, or a style at a strength. */
export interface Render {
  /** Viewer subscription key ("plain", or "style@strength"). */
  key: string;
  /** Set by the style stage (null: unstyled); absent in pipelines without a style stage. */
  style?: string | null;
  strength?: number;
  pixels: Uint8Array;
  /** pixels is this render's own buffer (drawing may write into it); else it is the frame's. */
  owned: boolean;
  /** Detections are drawn into the pixels. */
  annotated: boolean;
}

export interface FrameContext {
  /** One reference on the frame is held by this context (released by the tail, or by a stage that drops it). */
  readonly frame: Frame;
  readonly stream: string;
  /** Goes to the viewers (display rate and someone watching). */
  display: boolean;
  /** Due for inference (detection rate); the detect stage consumes it. */
  infer: boolean;
  /** Detections computed on this very frame (after inference), rather than carried from an earlier one. */
  fresh: boolean;
  detections: TrackedDetection[];
  /** The frame the detections were computed on. */
  detectionSeq: number | null;
  /** Track decisions made on this frame (recognize stage); alerts act on them. */
  recognitions: Recognition[];
  /** Pictures for the viewers (empty: the frame as it is). */
  renders: Render[];
}

/** A context for a frame; takes its own reference on the frame. */
export function contextOf(frame: Frame, due: { display: boolean; infer: boolean }): FrameContext {
  return {
    frame: frame.retain(),
    stream: frame.streamId,
    display: due.display,
    infer: due.infer,
    fresh: false,
    detections: [],
    detectionSeq: null,
    recognitions: [],
    renders: [],
  };
}

/** A second context of the same frame (its own reference), e.g. the display copy of a frame also inferred. */
export function forkContext(ctx: FrameContext, patch: Partial<FrameContext>): FrameContext {
  return { ...ctx, frame: ctx.frame.retain(), recognitions: [], renders: [], ...patch };
}

/** Ends a context: gives its frame reference back. */
export function releaseContext(ctx: FrameContext): void {
  ctx.frame.release();
}

/** The renders to send: the frame itself when no stage made any. */
export function rendersOf(ctx: FrameContext): Render[] {
  if (ctx.renders.length === 0)
    ctx.renders.push({ key: 'plain', pixels: ctx.frame.pixels, owned: false, annotated: false });
  return ctx.renders;
}

/** Makes a render's pixels writable: copies the frame's buffer once (copy on write), never twice. */
export function writablePixels(r: Render): Uint8Array {
  if (!r.owned) {
    countFrameCopy('copy_on_write');
    r.pixels = Uint8Array.from(r.pixels);
    r.owned = true;
  }
  return r.pixels;
}
