import type { DetectorOptions } from '../faces/detect/blazeface.js';
import type { Detection } from './contract.js';
import type { BackendPreference } from './tfjs-engine.js';

/** What a worker runs: named tasks, each a model plus its pre/post-processing. */
export interface TaskSpec {
  detect?: { model: string; options: DetectorOptions };
}

export interface FramePayload {
  width: number;
  height: number;
  /** RGB24, transferred to the worker. */
  pixels: ArrayBuffer;
}

export type ToWorker =
  | { type: 'init'; backend: BackendPreference; tasks: TaskSpec }
  | { type: 'run'; id: number; task: keyof TaskSpec; frames: FramePayload[]; debugDelayMs?: number }
  | { type: 'crash' };

export type FromWorker =
  | { type: 'ready'; engine: string; backend: string; warmupMs: number }
  | { type: 'init-error'; message: string }
  | { type: 'result'; id: number; detections: Detection[][]; ms: number; tensors: number }
  | { type: 'error'; id: number; message: string };
