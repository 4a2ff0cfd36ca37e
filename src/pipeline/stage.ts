/**
 * The Stage contract. A pipeline (pipelines/*.yaml) is an ordered list of stages; each stage kind
 * is one module that registers itself here with its zod config schema, and `create` returns an
 * RxJS operator over FrameContexts. The builder (builder.ts) knows only this registry, never a
 * stage implementation; `vigil stages` lists it like gst-inspect.
 */
import type { OperatorFunction } from 'rxjs';
import type { z } from 'zod';
import type { OutputConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { VigilMetrics } from '../metrics/metrics.js';
import type { FrameContext } from './context.js';

/**
 * Where a stage sits: analysis (inference, tracking, decisions) comes before rendering (pictures for
 * viewers), and one output stage ends the chain.
 */
export type StagePhase = 'analyze' | 'render' | 'output';

/** What every stage may use; the services a stage needs are looked up by name and typed by the stage. */
export interface StageContext {
  pipeline: string;
  metrics: VigilMetrics;
  log: Logger;
  output: OutputConfig;
  /** Cross-stream batching limits (inference.maxBatch / maxWaitMs). */
  batching: { maxBatch: number; maxWaitMs: number };
  /** Services started before the chain (inference, faces, style, viewers): see `service()`. */
  services: ReadonlyMap<string, unknown>;
}

/** A service a stage needs, or an error naming the stage and the missing module. */
export function service<T>(ctx: StageContext, name: string, stage: string): T {
  const s = ctx.services.get(name);
  if (s === undefined)
    throw new Error(
      `pipeline ${ctx.pipeline}: stage "${stage}" needs the ${name} module, which is not running`,
    );
  return s as T;
}

/**
 * A created stage. Analysis stages transform the stream of contexts (`operator`: they may hold,
 * batch, fork or add contexts). Render and output stages work on one displayed frame at a time
 * (`render`): the builder runs the consecutive render functions of a chain in order inside one
 * latest-wins slot per stream, so a slow renderer drops stale frames instead of queueing them.
 */
export type StageInstance = (
  | { operator: OperatorFunction<FrameContext, FrameContext>; render?: undefined }
  | { render: (ctx: FrameContext) => Promise<void> | void; operator?: undefined }
) & { close?(): Promise<void> | void };

export interface StageKind<S extends z.ZodType = z.ZodType> {
  kind: string;
  /** One line for `vigil stages`. */
  summary: string;
  phase: StagePhase;
  /** The stage consumes frames due for inference (the head then marks them). */
  infers?: boolean;
  schema: S;
  create(config: z.output<S>, ctx: StageContext): StageInstance;
}

/**
 * Each stage module adds its kind's config type here (declaration merging), so code outside the
 * chain reads a stage's settings typed without importing the stage: `stageConfig(def, 'detect')`.
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled by declaration merging in each stage module
export interface StageConfigMap {}

const registry = new Map<string, StageKind>();

/** Registers a stage kind (once per kind). */
export function registerStage<S extends z.ZodType>(kind: StageKind<S>): void {
  if (registry.has(kind.kind)) throw new Error(`stage kind "${kind.kind}" is registered twice`);
  registry.set(kind.kind, kind as unknown as StageKind);
}

export function stageKind(kind: string): StageKind | undefined {
  return registry.get(kind);
}

/** Every registered kind, in registration order. */
export function stageKinds(): StageKind[] {
  return [...registry.values()];
}
