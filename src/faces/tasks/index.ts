/**
 * The face tasks of the inference pool, host side: their types (added to the pool's TaskTypes) and
 * the entries that name their modules. The worker imports detect-task.ts and embed-task.ts by path;
 * nothing under src/inference imports them.
 */
import type { Detection } from '../../inference/contract.js';
import type { InferenceHost } from '../../inference/host.js';
import type { TaskEntry } from '../../inference/task.js';
import type { VigilMetrics } from '../../metrics/metrics.js';
import type { BatchRunner } from '../../pipeline/batcher.js';
import type { Frame } from '../../sources/frame.js';
import type { DetectorOptions } from '../detect/blazeface.js';

/** One way of detecting: a model, its options and tiling. */
export interface DetectVariant {
  model: string;
  options: DetectorOptions;
  /** Overlapping tiles along the frame's long side, plus the whole frame (1 = whole frame only). */
  tiles?: number;
}

export interface DetectSpec extends DetectVariant {
  /** Other settings some cameras use (streams[].detect); a request picks one per frame, 0 = this spec's own. */
  variants?: DetectVariant[];
}

/** Per frame of a run, the variant to detect it with (index into [spec, ...spec.variants]). */
export interface DetectRequest {
  variant: number[];
}

export interface EmbedSpec {
  model: string;
  /** Warp faces by their keypoints (else a box crop). */
  align: boolean;
  /** Crop context; default from the manifest. */
  context?: number;
  /** A trained projection head (models/heads/NAME), applied after L2 normalisation. */
  head?: string;
}

/** A face to embed: which frame of the request, and where. Cropped in the worker. */
export interface FaceRequest {
  frame: number;
  box: Detection['box'];
  landmarks: Detection['landmarks'];
}

export interface EmbeddedFace {
  /** L2-normalised embedding. */
  embedding: Float32Array;
  /** Best gallery rows (cosine similarity), best first; empty without a gallery. */
  rows: number[];
  sims: number[];
}

export interface EmbedOutput {
  faces: EmbeddedFace[];
  /** The gallery version the matches were computed against (undefined: no gallery). */
  galleryVersion: number | undefined;
}

/** The gallery the embed task matches against: rows x dim, L2-normalised rows. */
export interface GalleryConfig {
  version: number;
  rows: number;
  dim: number;
  data: Float32Array;
}

declare module '../../inference/task.js' {
  interface TaskTypes {
    detect: { spec: DetectSpec; request: DetectRequest | undefined; result: Detection[][] };
    embed: {
      spec: EmbedSpec;
      request: { faces: FaceRequest[]; topK: number };
      result: EmbedOutput;
      /** The length of the vectors the task returns (the head's, with a head). */
      info: { dim: number };
      config: GalleryConfig;
    };
  }
}

/** Face detection (BlazeFace) on whole frames or tiles. */
export function detectTask(spec: DetectSpec): TaskEntry<'detect'> {
  return { kind: 'detect', module: 'faces/tasks/detect-task.js', spec };
}

/** Face embedding and gallery matching; list it after detectTask (its ONNX check detects faces). */
export function embedTask(spec: EmbedSpec): TaskEntry<'embed'> {
  return { kind: 'embed', module: 'faces/tasks/embed-task.js', spec };
}

/** The embedding length of the pool's embed task (0 without one). */
export function embedDim(host: Pick<InferenceHost, 'info'>): number {
  return host.info('embed')?.dim ?? 0;
}

/** The detect task as the detect stage's batch runner, with per-call metrics. */
export function batchDetector(
  host: InferenceHost,
  model: string,
  metrics: VigilMetrics,
  variantOf: ReadonlyMap<string, number> = new Map(),
): BatchRunner<Frame, Detection[]> {
  return {
    idle: () => host.idle,
    whenIdle: () => host.whenIdle(),
    run: async (frames) => {
      // the frames' pixels are shared with the worker (no copy); the detect stage holds them
      const variant = frames.map((f) => variantOf.get(f.streamId) ?? 0);
      const r = await host.run('detect', frames, variant.some((v) => v) ? { variant } : undefined);
      metrics.inferenceDuration.observe({ model, backend: host.backendOf(model).backend }, r.ms / 1000);
      metrics.workerTensors.set(r.tensors);
      metrics.batchSize.observe({ model }, frames.length);
      return r.result;
    },
  };
}

/** Loads a gallery into every worker of the pool (and into restarted ones). */
export function setGallery(host: Pick<InferenceHost, 'configure'>, g: GalleryConfig): void {
  host.configure('embed', { version: g.version, rows: g.rows, dim: g.dim, data: g.data });
}
