import type { DetectorOptions } from '../faces/detect/blazeface.js';
import type { Detection } from './contract.js';
import type { Equivalence } from './onnx/verify.js';
import type { BackendPreference } from './tfjs-engine.js';

/** Which engine runs a model: measured at start-up (`auto`), tfjs, or ONNX Runtime. */
export type EngineChoice = 'auto' | 'tfjs' | 'onnx';
export type EngineName = 'tfjs' | 'onnx';

/** Engine selection handed to every worker (from `inference.*` in the config). */
export interface EngineSettings {
  /** Default for every model. */
  engine: EngineChoice;
  /** Per-model overrides (model name -> choice). */
  models: Record<string, EngineChoice>;
  onnx: {
    /** 0 = cores / workers. */
    intraOpThreads: number;
    executionProviders: Array<'cpu' | 'cuda' | 'tensorrt'>;
    /** Converted models are cached here. */
    cacheDir: string;
  };
  /** Choices already made and checked (by the first worker): later workers skip checks and timing. */
  resolved?: Record<string, EngineName>;
}

/** How a model's engine was chosen: exported as metrics and printed by `vigil doctor`. */
export interface ModelEngineReport {
  model: string;
  task: 'detect' | 'embed';
  requested: EngineChoice;
  engine: EngineName;
  backend: string;
  /** ONNX was requested (or considered by auto) but not used: why. */
  fallback?: { reason: 'unavailable' | 'conversion' | 'not_equivalent' | 'load'; message: string };
  /** Start-up timing, ms per call at batch 1 (auto; onnx also times itself). */
  timings?: Partial<Record<EngineName, number>>;
  equivalence?: Equivalence;
  /** ONNX conversion: ms (0 when read from the cache). */
  convertMs?: number;
  cached?: boolean;
  /** ORT intra-op threads. */
  threads?: number;
  /** Check and timing come from an earlier start on this machine (the decision cache). */
  decidedBefore?: boolean;
}

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
  | {
      type: 'init';
      backend: BackendPreference;
      tasks: TaskSpec;
      /** Absent: tfjs for every model. */
      engines?: EngineSettings;
      workers?: number;
      /** A real photo for the equivalence checks (RGB24). */
      probe?: FramePayload;
    }
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
  | { type: 'crash' }
  /** Finish what is in flight, release native sessions, exit (see worker-close.ts). */
  | { type: 'close' };

export type FromWorker =
  | {
      type: 'ready';
      engine: string;
      backend: string;
      warmupMs: number;
      embedDim?: number;
      models?: ModelEngineReport[];
    }
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
