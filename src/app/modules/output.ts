/**
 * The viewers' hub (WebSocket): its hello describes the pipeline, styles and streams; it relays
 * every stream's state changes and the gallery's changes to every viewer.
 */
import { WsHub } from '../../output/ws-hub.js';
import { defineModule, type ModuleScope } from '../module.js';
import type { BaseContext, PipelineContext } from './base.js';
import type { FacesContext } from './faces.js';
import type { SourcesContext } from './sources.js';
import type { StyleContext } from './style.js';

export interface OutputContext {
  readonly hub: WsHub;
}

type Needs = BaseContext & PipelineContext & StyleContext & FacesContext & SourcesContext;

export const outputModule = defineModule<Needs, OutputContext>({
  name: 'output',
  start: (ctx, scope) => {
    const hub = createHub(ctx);
    scope.onStop(() => hub.close());
    relayToViewers(ctx, hub, scope);
    return { hub };
  },
});

function createHub({ config, plan, style, faces, sources, metrics }: Needs): WsHub {
  const defaultStyle = plan.style
    ? { style: plan.style.default === 'none' ? null : plan.style.default, strength: plan.style.strength }
    : undefined;
  return new WsHub({
    maxBufferedBytes: config.output.maxBufferedBytes,
    metrics,
    knownStreams: () => sources.map((s) => s.id),
    ...(style && defaultStyle ? { styles: () => [...style.styles.keys()], defaultStyle } : {}),
    hello: () => ({
      pipeline: plan.name,
      styles: style?.list,
      styleDefault: style ? defaultStyle : undefined,
      recognition: Boolean(faces),
      streams: sources.map((s) => ({ ...s.status, width: s.config.width, height: s.config.height })),
    }),
  });
}

/** Stream states and gallery changes (also those made by the CLI) reach every viewer. */
function relayToViewers({ sourceSet, faces, style }: Needs, hub: WsHub, scope: ModuleScope): void {
  if (style)
    scope.onStop(
      style.onTraining((e) =>
        hub.broadcast(
          e.type === 'job' ? { type: 'styleTraining', job: e.job } : { type: 'styles', styles: style.list },
        ),
      ),
    );
  // a camera added later (cluster mode) announces itself by its first status
  scope.onStop(
    sourceSet.each((src) => {
      const sub = src.state$.subscribe((status) => hub.broadcast({ type: 'status', status }));
      return () => sub.unsubscribe();
    }),
  );
  if (faces)
    scope.onStop(
      faces.gallery.onChange((m) =>
        hub.broadcast({ type: 'people', version: m.version, people: m.names.size }),
      ),
    );
}
