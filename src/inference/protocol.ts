import type { RgbImage } from '../util/rgb.js';
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
  /** The task kind that loaded it. */
  task: string;
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

/** Host -> worker. Frames are RgbImages whose pixels sit on a SharedArrayBuffer (shared, not copied). */
export type ToWorker =
  | {
      type: 'init';
      backend: BackendPreference;
      /** Task modules to import, paths under dist/ (each registers its tasks). */
      modules: string[];
      /** Loaded in this order (a task may use one loaded before it). */
      tasks: Array<{ kind: string; spec: unknown }>;
      /** Absent: tfjs for every model. */
      engines?: EngineSettings;
      workers?: number;
      /** A real photo for the equivalence checks (RGB24). */
      probe?: RgbImage;
    }
  | { type: 'run'; id: number; task: string; frames: RgbImage[]; request: unknown; debugDelayMs?: number }
  /** A task setting between runs (e.g. the gallery); queued behind initialisation. */
  | { type: 'configure'; task: string; config: unknown }
  | { type: 'crash' }
  /** Finish what is in flight, release native sessions, exit (see worker-close.ts). */
  | { type: 'close' };

export type FromWorker =
  | {
      type: 'ready';
      engine: string;
      backend: string;
      warmupMs: number;
      /** Per task kind: what the task reports once loaded. */
      info: Record<string, unknown>;
      models?: ModelEngineReport[];
    }
  | { type: 'init-error'; message: string }
  | { type: 'event'; task: string; event: unknown }
  | { type: 'result'; id: number; ms: number; tensors: number; result: unknown }
  | { type: 'error'; id: number; message: string };
