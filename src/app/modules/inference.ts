/** The one inference pool for every model of the pipeline (detection, recognition, style). */
import type { InferenceHost } from '../../inference/host.js';
import { pipelinePool } from '../../pipeline-pool.js';
import { defineModule } from '../module.js';
import type { BaseContext, PipelineContext } from './base.js';

export interface InferenceContext {
  /** Absent when the pipeline runs no model. */
  readonly host: InferenceHost | undefined;
}

export const inferenceModule = defineModule<BaseContext & PipelineContext, InferenceContext>({
  name: 'inference',
  start: async ({ config, plan, metrics, log }, scope) => {
    const host = pipelinePool(plan, config, {
      onRestart: () => metrics.workerRestarts.inc(),
      log: (m) => log.info(m),
    });
    if (!host) return { host };
    scope.onStop(() => host.close());
    await host.start();
    if (plan.detect) {
      metrics.backendInfo.set({ engine: host.engine, backend: host.backend }, 1);
      metrics.recordEngines(host.models);
    }
    return { host };
  },
});
