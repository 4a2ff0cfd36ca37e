/** The style stage's styles (found before any worker starts) and its service on the inference pool. */
import { findStyles, StyleService } from '../../style/service.js';
import { defineModule } from '../module.js';
import type { BaseContext, PipelineContext } from './base.js';
import type { InferenceContext } from './inference.js';

export interface StyleCatalogContext {
  /** The styles viewers may pick (name -> folder), when the pipeline has a style stage. */
  readonly styleDirs: ReadonlyMap<string, string> | undefined;
}

/** Before the pool starts, so that an unknown default style stops start-up at once, naming the key. */
export const styleCatalogModule = defineModule<BaseContext & PipelineContext, StyleCatalogContext>({
  name: 'styles',
  start: ({ config, plan }) => {
    const st = plan.style;
    return { styleDirs: st ? findStyles(config.dataDir, st.default, plan.name) : undefined };
  },
});

export interface StyleContext {
  /** Present when the pipeline has a style stage. */
  readonly style: StyleService | undefined;
}

type Needs = BaseContext & PipelineContext & InferenceContext & StyleCatalogContext;

export const styleModule = defineModule<Needs, StyleContext>({
  name: 'style',
  start: ({ config, plan, host, styleDirs, metrics, log }, scope) => {
    if (!plan.style || !host || !styleDirs) return { style: undefined };
    const style = new StyleService(host, new Map(styleDirs), {
      metrics,
      log,
      smoothing: plan.style.smoothing,
      dataDir: config.dataDir,
      // every inference worker is running the cameras' frames: a training from the page pauses
      busy: () => host.idle === 0,
    });
    scope.onStop(() => style.close());
    log.info({ styles: [...styleDirs.keys()] }, 'styles available');
    return { style };
  },
});
