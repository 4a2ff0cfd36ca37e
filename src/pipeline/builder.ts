/**
 * Turns a pipeline definition into the chain its frames travel, in the order written:
 * head (per-stream rate gates) -> stage 1 -> ... -> output stage -> tail. Knows stages only through
 * the registry (stage.ts); the head and tail own the frame references that contexts carry.
 */
import {
  connect,
  filter,
  from,
  isObservable,
  map,
  merge,
  mergeMap,
  type Observable,
  type OperatorFunction,
  type Subscription,
} from 'rxjs';
import type { StreamConfig } from '../config/schema.js';
import { decodeFps } from '../sources/ffmpeg.js';
import type { Frame } from '../sources/frame.js';
import { contextOf, type FrameContext, releaseContext, type TrackedDetection } from './context.js';
import type { PipelineDefinition } from './definition.js';
import { latestWinsMap, perStream, rateGate } from './operators.js';
import { type StageContext, type StageInstance, stageKind } from './stage.js';

export interface ChainSource {
  config: StreamConfig;
  frames$: Observable<Frame>;
}

export interface DetectionState {
  seq: number;
  captureTs: number;
  detections: TrackedDetection[];
}

export interface RunningChain {
  /** The stage kinds in chain order. */
  kinds: string[];
  /** Latest analysed detections per stream (after every analysis stage). */
  latest: Map<string, DetectionState>;
  stop(): Promise<void>;
}

export interface ChainOptions {
  /**
   * The sources: a fixed list, or every source now and each one added later (cluster mode,
   * src/sources/source-set.ts); a source leaves the chain when its frames$ completes.
   */
  sources: ChainSource[] | Observable<ChainSource>;
  /** Whether anyone watches a stream now (frames for nobody are not rendered). */
  watched: (stream: string) => boolean;
}

/** Frames due for inference and/or display, per stream, as contexts. */
function head(o: ChainOptions, infers: boolean): Observable<FrameContext> {
  const perStream = (s: ChainSource) => {
    const fps = decodeFps(s.config);
    const inferGate = rateGate(s.config.detectFps, fps);
    const displayGate = rateGate(s.config.displayFps, fps);
    return s.frames$.pipe(
      map((f) => ({
        f,
        // a source with full-resolution pictures picked the detection frames (those it has them for)
        infer: infers && (f.detectDue ?? inferGate(f.captureTs)),
        display: displayGate(f.captureTs) && o.watched(s.config.id),
      })),
      filter((d) => d.infer || d.display),
      // the context takes its own reference synchronously, while the source still holds the frame
      map((d) => contextOf(d.f, d)),
    );
  };
  const sources = isObservable(o.sources) ? o.sources : from(o.sources);
  return sources.pipe(mergeMap(perStream));
}

/** Creates every stage of `def` in order; a stage that fails to start closes the ones before it. */
function createStages(def: PipelineDefinition, ctx: StageContext): StageInstance[] {
  const made: StageInstance[] = [];
  try {
    def.stages.forEach((s, i) => {
      const kind = stageKind(s.kind);
      if (!kind) throw new Error(`${def.file}: stages[${i}]: unknown stage "${s.kind}"`);
      made.push(kind.create(s.config as never, ctx));
    });
  } catch (e) {
    for (const m of made.reverse()) void m.close?.();
    throw e;
  }
  return made;
}

type Op = OperatorFunction<FrameContext, FrameContext>;

/** The chain as operators: each analysis stage's own, and one per run of consecutive renderers. */
function sections(stages: StageInstance[], ctx: StageContext): Op[] {
  const ops: Op[] = [];
  let run: Array<(c: FrameContext) => Promise<void> | void> = [];
  const flush = () => {
    if (run.length) ops.push(renderSection(run, ctx));
    run = [];
  };
  for (const s of stages) {
    if (s.render) run.push(s.render);
    else {
      flush();
      ops.push(s.operator);
    }
  }
  flush();
  return ops;
}

/**
 * Runs renderers in order on each displayed context, one frame at a time per stream, latest wins
 * (a newer frame replaces the one waiting: counted as encode_busy). Other contexts pass by.
 */
function renderSection(renderers: Array<(c: FrameContext) => Promise<void> | void>, ctx: StageContext): Op {
  const renderAll = async (c: FrameContext) => {
    for (const r of renderers) await r(c);
    return c;
  };
  return (source) =>
    source.pipe(
      connect((shared) =>
        merge(
          shared.pipe(filter((c) => !c.display)),
          shared.pipe(
            filter((c) => c.display),
            perStream((id) =>
              latestWinsMap(renderAll, {
                retain: (c) => void c.frame.retain(),
                release: (c) => c.frame.release(),
                onDrop: (c) => {
                  ctx.metrics.drop(id, 'encode_busy');
                  releaseContext(c);
                },
                onDiscard: releaseContext,
                onError: (e, c) => {
                  ctx.log.warn(`rendering failed for ${id}#${c.frame.seq}: ${e.message}`);
                  releaseContext(c);
                },
              }),
            ),
          ),
        ),
      ),
    );
}

/** Builds and subscribes the chain of `def` over the sources. */
export function buildChain(def: PipelineDefinition, ctx: StageContext, o: ChainOptions): RunningChain {
  const stages = createStages(def, ctx);
  const infers = def.stages.some((s) => stageKind(s.kind)?.infers);
  const latest = new Map<string, DetectionState>();
  const chain = sections(stages, ctx).reduce<Observable<FrameContext>>(
    (stream, op) => stream.pipe(op),
    head(o, infers),
  );
  const sub: Subscription = chain.subscribe((c) => {
    if (c.fresh)
      latest.set(c.stream, { seq: c.frame.seq, captureTs: c.frame.captureTs, detections: c.detections });
    releaseContext(c);
  });
  return {
    kinds: def.stages.map((s) => s.kind),
    latest,
    stop: async () => {
      sub.unsubscribe();
      for (const s of [...stages].reverse()) await s.close?.();
    },
  };
}
