/**
 * Inference tasks as plugins. A task (detect, embed, style, ...) is one module that calls
 * `registerTask` when it is imported; the worker (worker.ts) imports the task modules the host names
 * at start-up, so this folder never imports a task. A task loads its models through the worker's
 * engines (tfjs, ONNX Runtime, chosen per model: onnx/select.ts), then runs requests on frames that
 * arrive on SharedArrayBuffers (no copy on either thread).
 *
 * Each task module declares its types by adding an entry to `TaskTypes` (declaration merging), so
 * `host.run('embed', frames, request)` is typed without the host knowing the task:
 *
 *   declare module '../../inference/task.js' {
 *     interface TaskTypes { embed: { spec: EmbedSpec; request: EmbedRequest; result: EmbedOutput } }
 *   }
 */
import type { RgbImage } from '../util/rgb.js';
import type { InferenceEngine, LoadedModel, ModelManifest } from './contract.js';
import type { OnnxEngine } from './onnx/engine.js';
import type { Equivalence } from './onnx/verify.js';
import type { EngineChoice } from './protocol.js';

/**
 * Every task kind: `spec` (what the worker loads), `request` (per run, besides the frames; `undefined`
 * for none), `result`; optionally `info` (reported once loaded), `config` (settings sent between
 * runs, e.g. a gallery) and `event` (what the task tells the host on its own, e.g. engine reports).
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled by declaration merging in each task module
export interface TaskTypes {}
export type TaskKind = keyof TaskTypes & string;

type Field<K, F extends string> = K extends TaskKind
  ? TaskTypes[K] extends Record<F, infer T>
    ? T
    : never
  : never;
export type SpecOf<K extends TaskKind> = Field<K, 'spec'>;
export type RequestOf<K extends TaskKind> = Field<K, 'request'>;
export type ResultOf<K extends TaskKind> = Field<K, 'result'>;
export type InfoOf<K extends TaskKind> = Field<K, 'info'>;
export type ConfigOf<K extends TaskKind> = Field<K, 'config'>;
export type EventOf<K extends TaskKind> = Field<K, 'event'>;
/** The request argument of a run: none for tasks whose request is `undefined`, optional where it may be. */
export type RequestArgs<K extends TaskKind> = [RequestOf<K>] extends [undefined]
  ? []
  : [undefined] extends [RequestOf<K>]
    ? [RequestOf<K>?]
    : [RequestOf<K>];

/**
 * A task the host asks its workers to load. `module` is the task module's path under dist/ (e.g.
 * "faces/tasks/detect-task.js"): the worker imports it, and the module registers the task.
 */
export interface TaskEntry<K extends TaskKind = TaskKind> {
  kind: K;
  module: string;
  spec: SpecOf<K>;
}

/** What a task gets while it loads. */
export interface LoadContext {
  /** The worker's tfjs engine (always there). */
  readonly tfjs: InferenceEngine;
  /** ONNX Runtime, started on first use; undefined when the host gave no engine settings. */
  readonly onnx: (() => Promise<OnnxEngine>) | undefined;
  /** The engine configured for a model name: its override, else the default (tfjs without settings). */
  engineFor(model: string): EngineChoice;
  /**
   * Loads a model on its configured engine (onnx/select.ts): `check` runs the tfjs reference and the
   * ONNX candidate on the same real input; the choice is reported to the host.
   */
  loadModel(
    manifest: ModelManifest,
    check: (reference: LoadedModel, candidate: LoadedModel) => Promise<Equivalence>,
  ): Promise<LoadedModel>;
  /** A real photo (else a synthetic gradient) for equivalence checks. */
  readonly probe: { frames: RgbImage[]; label: string };
  /** Runs a task loaded before this one (the embed check detects faces on the probe). */
  run(kind: string, frames: RgbImage[], request?: unknown): Promise<unknown>;
  /** Sends an event to the host (listeners of `host.onEvent(kind)`). */
  emit(event: unknown): void;
}

/** What a task gets while it runs a request. */
export interface RunContext {
  readonly tfjs: InferenceEngine;
  /** Buffers of the result to transfer (moved to the main thread, not copied). */
  transfer(...buffers: ArrayBuffer[]): void;
  emit(event: unknown): void;
}

/** A task as its module implements it (typed by its TaskTypes entry). */
export interface InferenceTask<K extends TaskKind, State> {
  kind: K;
  load(spec: SpecOf<K>, ctx: LoadContext): Promise<State>;
  /** What the host learns once the task is loaded (e.g. the embedding length). */
  info?(state: State): InfoOf<K>;
  /** Frames are read-only: on the live path they are the decoder's shared buffers. */
  run(state: State, frames: RgbImage[], request: RequestOf<K>, ctx: RunContext): Promise<ResultOf<K>>;
  /** A setting from the host, applied between runs; restarted workers get the latest again. */
  configure?(state: State, config: ConfigOf<K>, ctx: LoadContext): void;
  /** Releases what the task holds before the worker exits. */
  dispose?(state: State): Promise<void> | void;
}

/** The worker's view of any task. */
export interface AnyTask {
  kind: string;
  load(spec: unknown, ctx: LoadContext): Promise<unknown>;
  info?(state: unknown): unknown;
  run(state: unknown, frames: RgbImage[], request: unknown, ctx: RunContext): Promise<unknown>;
  configure?(state: unknown, config: unknown, ctx: LoadContext): void;
  dispose?(state: unknown): Promise<void> | void;
}

const registry = new Map<string, AnyTask>();

/** Called by a task module when imported (in the worker); a kind registers once. */
export function registerTask<K extends TaskKind, State>(task: InferenceTask<K, State>): void {
  if (registry.has(task.kind)) throw new Error(`inference task "${task.kind}" is registered twice`);
  registry.set(task.kind, task as unknown as AnyTask);
}

export function taskOf(kind: string): AnyTask | undefined {
  return registry.get(kind);
}
