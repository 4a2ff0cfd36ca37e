/**
 * The one inference pool a pipeline needs: the tasks of its stages (detect and recognize: the face
 * tasks; style: the style task), inference.workers workers for detection and recognition plus the
 * style stage's `workers`. Every worker loads every task, so any idle worker runs any request.
 */
import type { StreamConfig, VigilConfig } from './config/schema.js';
import { type DetectSpec, type DetectVariant, detectTask, embedTask } from './faces/tasks/index.js';
import { type HostOptions, InferenceHost } from './inference/host.js';
import { engineSettings } from './inference/onnx/settings.js';
import type { TaskEntry } from './inference/task.js';
import type { StageSettings } from './pipeline/definition.js';
import type { DetectStageConfig } from './pipeline/stages/detect.js';
import { styleTask } from './style/host.js';

/** The pool for `plan` (not started), or undefined when no stage runs a model. */
export function pipelinePool(
  plan: StageSettings,
  c: VigilConfig,
  opts: Pick<HostOptions, 'onRestart' | 'log'>,
): InferenceHost | undefined {
  const { detect, recognize: rec, style } = plan;
  const tasks: TaskEntry[] = [];
  if (detect) {
    tasks.push(detectTask(detectPlan(detect, c.streams).spec));
    if (rec)
      tasks.push(embedTask({ model: rec.model, align: rec.align, context: rec.context, head: rec.head }));
  }
  if (style) tasks.push(styleTask());
  if (!tasks.length) return undefined;
  return new InferenceHost({
    workers: (detect ? c.inference.workers : 0) + (style?.workers ?? 0),
    backend: c.inference.backend,
    engines: engineSettings(c.inference, c.dataDir),
    tasks,
    debugDelayMs: c.inference.debugDelayMs,
    ...opts,
  });
}

/**
 * The detect task's spec for the pipeline's detect stage and the cameras that override it
 * (streams[].detect): variant 0 is the stage's settings, each distinct override one more variant;
 * `variantOf` says which stream uses which (streams absent from it use 0).
 */
export function detectPlan(
  detect: DetectStageConfig,
  streams: readonly StreamConfig[],
): { spec: DetectSpec; variantOf: Map<string, number> } {
  const toVariant = ({ model, tiles, ...options }: DetectStageConfig): DetectVariant => ({
    model,
    options,
    tiles,
  });
  const variants: DetectVariant[] = [toVariant(detect)];
  const keys = [JSON.stringify(variants[0])];
  const variantOf = new Map<string, number>();
  for (const s of streams) {
    if (!s.detect) continue;
    const v = toVariant({ ...detect, ...s.detect });
    const key = JSON.stringify(v);
    let i = keys.indexOf(key);
    if (i < 0) {
      i = variants.push(v) - 1;
      keys.push(key);
    }
    if (i > 0) variantOf.set(s.id, i);
  }
  const [base, ...rest] = variants as [DetectVariant, ...DetectVariant[]];
  return { spec: rest.length ? { ...base, variants: rest } : base, variantOf };
}
