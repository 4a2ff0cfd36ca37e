import type { DetectorOptions } from '../faces/detect/blazeface.js';
import type { Detection } from './contract.js';
import type { BackendPreference } from './tfjs-engine.js';

/** What a worker runs: named tasks, each a model plus its pre/post-processing. */
export interface TaskSpec {
  detect?: {
    model: string;
    options: DetectorOptions;
    /** Square tiles along the frame's long side (1 = whole frame). */
    tiles?: number;
  };
  embed?: {
    model: string;
    /** Warp faces by their keypoints (else a box crop). */
    align: boolean;
    /** Crop context; default from the manifest. */
    context?: number;
    /** A trained projection head (models/heads/NAME), applied after L2 normalisation. */
    head?: string;
  };
}

export interface FramePayload {
  width: number;
  height: number;
  /** RGB24, transferred to the worker. */
  pixels: ArrayBuffer;
}

/** A face to embed: which frame of the batch, and where. */
export interface FaceRequest {
  frame: number;
  box: Detection['box'];
  landmarks: Detection['landmarks'];
}

export interface EmbeddedFace {
  /** L2-normalised embedding. */
  embedding: Float32Array;
  /** Best gallery rows (cosine similarity), best first; empty without a gallery. */
  rows: number[];
  sims: number[];
}

export type ToWorker =
  | { type: 'init'; backend: BackendPreference; tasks: TaskSpec }
  | { type: 'run'; id: number; task: 'detect'; frames: FramePayload[]; debugDelayMs?: number }
  | {
      type: 'run';
      id: number;
      task: 'embed';
      frames: FramePayload[];
      faces: FaceRequest[];
      topK: number;
      debugDelayMs?: number;
    }
  | { type: 'gallery'; version: number; rows: number; dim: number; data: Float32Array }
  | { type: 'crash' };

export type FromWorker =
  | { type: 'ready'; engine: string; backend: string; warmupMs: number; embedDim?: number }
  | { type: 'init-error'; message: string }
  | {
      type: 'result';
      id: number;
      ms: number;
      tensors: number;
      detections?: Detection[][];
      faces?: EmbeddedFace[];
      galleryVersion?: number;
    }
  | { type: 'error'; id: number; message: string };
