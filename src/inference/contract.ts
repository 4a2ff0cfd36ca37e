/**
 * The engine-agnostic inference contract. A model is loaded from a manifest, runs batches of NHWC
 * float32 tensors and returns named float32 outputs; tfjs implements it today (wasm / cpu /
 * tensorflow backends) and ONNX Runtime can implement the same interface.
 */
export interface TensorData {
  data: Float32Array;
  shape: number[];
}

export interface LoadedModel {
  readonly name: string;
  /** Runs one batch; `input.shape[0]` is the batch size. Outputs in the manifest's `outputs` order. */
  run(input: TensorData): Promise<TensorData[]>;
  dispose(): void;
}

export interface InferenceEngine {
  /** e.g. "tfjs" */
  readonly engine: string;
  /** e.g. "wasm", "cpu", "tensorflow" */
  readonly backend: string;
  load(manifest: ModelManifest): Promise<LoadedModel>;
  /** Holds a [rows x dim] matrix (the gallery) on the backend for batched similarity search. */
  matrix(data: Float32Array, rows: number, dim: number): SimilarityMatrix;
  /** Live tensors/allocations held by the engine (leak checks). */
  memory(): { tensors: number; bytes: number };
}

/** A gallery on the backend: one matrix product + top-k per batch of queries. */
export interface SimilarityMatrix {
  readonly rows: number;
  /** Dot products of each of the `n` queries with every row; the `k` best per query, best first. */
  topK(queries: Float32Array, n: number, k: number): Promise<{ indices: Int32Array; values: Float32Array }>;
  dispose(): void;
}

/** A model as described in models/manifest.yaml. */
export interface ModelManifest {
  name: string;
  /** npm package that ships the model, or "vigil" for models/ in this repository. */
  package: string;
  /** tfjs graph model.json, relative to the package root. */
  path: string;
  /** 'tfjs-graph', or a format a task module registers (tfjs-engine.ts registerModelFormat). */
  format: string;
  /** Input height, width, channels. */
  input: [number, number, number];
  /** Output node names, in the order `run` returns them. */
  outputs: string[];
  /** Make the batch dimension dynamic (the model was exported with batch 1 hard-coded). */
  dynamicBatch?: boolean;
  /** Embedding models: how crops are written (channel order, mean, scale). */
  pixels?: { order: 'rgb' | 'bgr'; mean: [number, number, number]; scale: number };
  /** Embedding models: descriptor length. */
  dim?: number;
  /** Embedding models: crop context around the aligned face (1 = tight ArcFace template). */
  context?: number;
  license?: string;
}

/** Faces and other objects found in one frame, in the frame's pixel coordinates. */
export interface Detection {
  /** [x1, y1, x2, y2] */
  box: [number, number, number, number];
  score: number;
  /** Keypoints [x, y]; BlazeFace: right eye, left eye, nose, mouth, right ear, left ear. */
  landmarks: Array<[number, number]>;
  /** What was found ("face"); later stages add their fields by extending this type (TrackedDetection). */
  label?: string;
}
