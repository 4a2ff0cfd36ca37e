/**
 * What the main thread (training-jobs.ts) and a style training worker (train-worker.ts) exchange:
 * the job's settings, a control word on a SharedArrayBuffer (read by the worker between steps) and
 * the worker's messages. Kept apart so the main thread loads no tfjs to start a job.
 */
import type { RgbImage } from '../util/rgb.js';
import type { TrainOptions } from './train.js';

export const CONTROL = { RUN: 0, PAUSE: 1, CANCEL: 2 } as const;

export interface TrainWorkerData {
  /** TRAIN_DEFAULTS fill in what is not given. */
  options: Partial<Omit<TrainOptions, 'onStep' | 'preview' | 'log'>> &
    Pick<TrainOptions, 'name' | 'style' | 'content' | 'steps' | 'outRoot'>;
  preview: { every: number; image: RgbImage };
  /** Int32Array(1): a CONTROL value, set by the main thread. */
  control: SharedArrayBuffer;
}

export type TrainWorkerMessage =
  | { type: 'progress'; step: number; steps: number; loss: number; paused: boolean }
  | { type: 'preview'; step: number; jpeg: Uint8Array }
  | { type: 'log'; message: string }
  | { type: 'done'; dir: string; seconds: number }
  | { type: 'cancelled' }
  | { type: 'error'; message: string };
