/**
 * The one inference pool a pipeline needs: the tasks of its stages (detect and recognize: the face
 * tasks; style: the style task), inference.workers workers for detection and recognition plus the
 * style stage's `workers`. Every worker loads every task, so any idle worker runs any request.
 */
import type { VigilConfig } from './config/schema.js';
import { detectTask, embedTask } from './faces/tasks/index.js';
import { type HostOptions, InferenceHost } from './inference/host.js';
import { engineSettings } from './inference/onnx/settings.js';
import type { TaskEntry } from './inference/task.js';
import type { StageSettings } from './pipeline/definition.js';
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
    const { model, tiles, ...options } = detect;
    tasks.push(detectTask({ model, options, tiles }));
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
