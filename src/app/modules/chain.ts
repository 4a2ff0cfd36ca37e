/**
 * The pipeline chain (src/pipeline/builder.ts): the stages of pipelines/NAME.yaml in order, given
 * the services the modules before started, looked up by the names the stages ask for.
 */
import { batchDetector } from '../../faces/tasks/index.js';
import { buildChain, type RunningChain } from '../../pipeline/builder.js';
import { detectPlan } from '../../pipeline-pool.js';
import type { StageContext } from '../../pipeline/stage.js';
import type { AlertSinks } from '../../pipeline/stages/alert.js';
import { defineModule } from '../module.js';
import type { AlertSinksContext } from './alert-sinks.js';
import type { BaseContext, PipelineContext } from './base.js';
import type { FacesContext } from './faces.js';
import type { InferenceContext } from './inference.js';
import type { OutputContext } from './output.js';
import type { SourcesContext } from './sources.js';
import type { StyleContext } from './style.js';

export interface ChainContext {
  readonly chain: RunningChain;
}

type Needs = BaseContext &
  PipelineContext &
  InferenceContext &
  StyleContext &
  FacesContext &
  SourcesContext &
  OutputContext &
  AlertSinksContext;

export const chainModule = defineModule<Needs, ChainContext>({
  name: 'chain',
  start: (ctx, scope) => {
    const { pipeline, sourceSet, hub, log } = ctx;
    const chain = buildChain(pipeline, stageContext(ctx), {
      // every source now and each one added later (cluster mode); a removed one completes
      sources: sourceSet.sources$,
      watched: (stream) => hub.hasSubscribers(stream),
    });
    scope.onStop(() => chain.stop());
    log.info({ pipeline: pipeline.name, stages: chain.kinds }, 'pipeline chain running');
    return { chain };
  },
});

function stageContext({
  config,
  alertPath,
  pipeline,
  plan,
  host,
  faces,
  style,
  hub,
  metrics,
  log,
}: Needs): StageContext {
  const services = new Map<string, unknown>([['viewers', hub]]);
  if (host && plan.detect) {
    const { variantOf } = detectPlan(plan.detect, config.streams);
    services.set('detector', batchDetector(host, plan.detect.model, metrics, variantOf));
    services.set('embedder', host);
  }
  if (faces) {
    services.set('faces', faces);
    if (alertPath) services.set('alerts', alertPath satisfies AlertSinks);
  }
  if (style) services.set('styler', style.styler());
  return {
    pipeline: pipeline.name,
    metrics,
    log,
    output: config.output,
    batching: { maxBatch: config.inference.maxBatch, maxWaitMs: config.inference.maxWaitMs },
    services,
  };
}
