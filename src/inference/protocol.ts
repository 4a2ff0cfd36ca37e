/**
 * The host <-> inference worker boundary: one zod definition of every message each way, and the
 * TypeScript types inferred from it. Both sides parse what they receive (worker.ts, host.ts), so a
 * message of the wrong shape fails there, naming the field, instead of deep inside a task.
 * Task requests, results and settings are the tasks' own (`unknown` here): each task checks its
 * own (task.ts), as the worker knows no task.
 */
import { z } from 'zod';

/** Which engine runs a model: measured at start-up (`auto`), tfjs, or ONNX Runtime. */
export const EngineChoiceSchema = z.enum(['auto', 'tfjs', 'onnx']);
export type EngineChoice = z.infer<typeof EngineChoiceSchema>;
export const EngineNameSchema = z.enum(['tfjs', 'onnx']);
export type EngineName = z.infer<typeof EngineNameSchema>;

/** Engine selection handed to every worker (from `inference.*` in the config). */
export const EngineSettingsSchema = z.object({
  /** Default for every model. */
  engine: EngineChoiceSchema,
  /** Per-model overrides (model name -> choice). */
  models: z.record(z.string(), EngineChoiceSchema),
  onnx: z.object({
    /** 0 = cores / workers. */
    intraOpThreads: z.number().int().nonnegative(),
    executionProviders: z.array(z.enum(['cpu', 'cuda', 'tensorrt'])),
    /** Converted models are cached here. */
    cacheDir: z.string(),
  }),
  /** Choices already made and checked (by the first worker): later workers skip checks and timing. */
  resolved: z.record(z.string(), EngineNameSchema).optional(),
});
export type EngineSettings = z.infer<typeof EngineSettingsSchema>;

/** A converted model compared with its tfjs original (see onnx/verify.ts). */
export const EquivalenceSchema = z.object({
  measure: z.enum(['cosine', 'box_px', 'max_abs_255']),
  /** Worst value over the inputs (lowest cosine, largest px / abs difference). */
  value: z.number(),
  tolerance: z.number(),
  ok: z.boolean(),
  /** What was compared, e.g. "4 face crops". */
  inputs: z.string(),
  /** Why it failed, when it did. */
  detail: z.string().optional(),
});

/** How a model's engine was chosen: exported as metrics and printed by `vigil doctor`. */
export const ModelEngineReportSchema = z.object({
  model: z.string(),
  /** The task kind that loaded it. */
  task: z.string(),
  requested: EngineChoiceSchema,
  engine: EngineNameSchema,
  backend: z.string(),
  /** ONNX was requested (or considered by auto) but not used: why. */
  fallback: z
    .object({
      reason: z.enum(['unavailable', 'conversion', 'not_equivalent', 'load']),
      message: z.string(),
    })
    .optional(),
  /** Start-up timing, ms per call at batch 1 (auto; onnx also times itself). */
  timings: z.object({ tfjs: z.number().optional(), onnx: z.number().optional() }).optional(),
  equivalence: EquivalenceSchema.optional(),
  /** ONNX conversion: ms (0 when read from the cache). */
  convertMs: z.number().optional(),
  cached: z.boolean().optional(),
  /** ORT intra-op threads. */
  threads: z.number().optional(),
  /** Check and timing come from an earlier start on this machine (the decision cache). */
  decidedBefore: z.boolean().optional(),
});
export type ModelEngineReport = z.infer<typeof ModelEngineReportSchema>;

/** An RGB24 image as it crosses: the pixels are a view (on a SharedArrayBuffer for live frames). */
export const RgbImageSchema = z
  .object({
    width: z.number().int().positive(),
    height: z.number().int().positive(),
    // any Uint8Array view: on a SharedArrayBuffer (live frames) or not (probe photos)
    pixels: z.custom<Uint8Array>((v) => v instanceof Uint8Array, 'pixels must be a Uint8Array'),
  })
  .refine((f) => f.pixels.length === f.width * f.height * 3, {
    message: 'pixels must hold width * height * 3 bytes (RGB24)',
    path: ['pixels'],
  });

export const BackendPreferenceSchema = z.enum(['auto', 'tensorflow', 'wasm', 'cpu']);

/** Host -> worker. */
export const ToWorkerSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('init'),
    backend: BackendPreferenceSchema,
    /** Task modules to import, paths under dist/ (each registers its tasks). */
    modules: z.array(z.string()),
    /** Loaded in this order (a task may use one loaded before it). */
    tasks: z.array(z.object({ kind: z.string(), spec: z.unknown() })),
    /** Absent: tfjs for every model. */
    engines: EngineSettingsSchema.optional(),
    workers: z.number().int().positive().optional(),
    /** A real photo for the equivalence checks. */
    probe: RgbImageSchema.optional(),
  }),
  z.object({
    type: z.literal('run'),
    id: z.number().int(),
    task: z.string(),
    frames: z.array(RgbImageSchema),
    request: z.unknown(),
    debugDelayMs: z.number().nonnegative().optional(),
  }),
  /** A task setting between runs (e.g. the gallery); queued behind initialisation. */
  z.object({ type: z.literal('configure'), task: z.string(), config: z.unknown() }),
  /** Fault injection for tests. */
  z.object({ type: z.literal('crash') }),
  /** Finish what is in flight, release native sessions, exit (see worker-close.ts). */
  z.object({ type: z.literal('close') }),
]);
export type ToWorker = z.infer<typeof ToWorkerSchema>;

/** Worker -> host. */
export const FromWorkerSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('ready'),
    engine: z.string(),
    backend: z.string(),
    warmupMs: z.number(),
    /** Per task kind: what the task reports once loaded. */
    info: z.record(z.string(), z.unknown()),
    models: z.array(ModelEngineReportSchema).optional(),
  }),
  z.object({ type: z.literal('init-error'), message: z.string() }),
  z.object({ type: z.literal('event'), task: z.string(), event: z.unknown() }),
  z.object({
    type: z.literal('result'),
    id: z.number().int(),
    ms: z.number(),
    tensors: z.number(),
    result: z.unknown(),
  }),
  z.object({ type: z.literal('error'), id: z.number().int(), message: z.string() }),
]);
export type FromWorker = z.infer<typeof FromWorkerSchema>;

/** `what` parsed with `schema`, or an Error naming the first wrong field. */
export function parseMessage<T>(schema: z.ZodType<T>, what: string, raw: unknown): T | Error {
  const r = schema.safeParse(raw);
  if (r.success) return r.data;
  const i = r.error.issues[0];
  const type = (raw as { type?: unknown } | null)?.type;
  return new Error(
    `${what}${typeof type === 'string' ? ` "${type}"` : ''}: ${i?.path.join('.') || '(root)'}: ${i?.message}`,
  );
}
