/**
 * Converted models on disk: `<cacheDir>/<model>-<hash>.onnx` plus a JSON sidecar, keyed by the hash
 * of the source tfjs model (topology, weights, requested outputs) and the converter version, so a
 * changed model or converter converts again and an unchanged one loads in milliseconds.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ModelManifest } from '../contract.js';
import { makeBatchDynamic, readArtifacts } from '../model-loader.js';
import {
  CONVERTER_VERSION,
  convertTfGraph,
  OPSET,
  sourceHash,
  type TfGraph,
  type TfNode,
} from './convert/index.js';
import { encodeModel } from './proto.js';
import type { WeightSpec } from './weights.js';

export interface ConvertedModel {
  /** The .onnx file. */
  path: string;
  bytes: Uint8Array;
  /** sha256 of the source model (and converter version, outputs). */
  hash: string;
  /** Read from the cache (true) or converted now (false). */
  cached: boolean;
  /** Conversion time (0 when cached). */
  ms: number;
}

export interface CacheMeta {
  model: string;
  sourceHash: string;
  converter: number;
  opset: number;
  outputs: string[];
  onnxBytes: number;
  nodes: number;
  date: string;
}

/** The tfjs graph of a manifest model (batch made dynamic as the manifest asks). */
export function tfGraphOf(m: ModelManifest): TfGraph {
  if (m.format !== 'tfjs-graph')
    throw new Error(
      `model "${m.name}" has format "${m.format}": only tfjs graph models convert to ONNX (it is built op by op in tfjs)`,
    );
  const a = readArtifacts(m);
  return {
    nodes: a.modelTopology.node as TfNode[],
    weightSpecs: a.weightSpecs as WeightSpec[],
    weightData: new Uint8Array(a.weightData),
  };
}

/**
 * A tfjs graph model from its model.json path (weights next to it). A file that is not a tfjs graph
 * model, or whose weights are missing, is an error naming the file.
 */
export function readTfGraphFile(jsonPath: string, opts: { dynamicBatch?: boolean } = {}): TfGraph {
  let json: {
    modelTopology?: { node?: TfNode[] };
    weightsManifest?: Array<{ paths: string[]; weights: WeightSpec[] }>;
  };
  try {
    json = JSON.parse(readFileSync(jsonPath, 'utf8'));
  } catch (e) {
    throw new Error(`${jsonPath}: not a readable tfjs model.json (${(e as Error).message})`);
  }
  const nodes = json.modelTopology?.node;
  if (!Array.isArray(nodes) || !Array.isArray(json.weightsManifest))
    throw new Error(`${jsonPath}: not a tfjs graph model (no modelTopology.node / weightsManifest)`);
  const parts = json.weightsManifest.flatMap((g) =>
    g.paths.map((p) => {
      const f = join(dirname(jsonPath), p);
      if (!existsSync(f)) throw new Error(`${jsonPath}: weight file ${p} is missing`);
      return readFileSync(f);
    }),
  );
  const weightData = new Uint8Array(Buffer.concat(parts));
  const weightSpecs = json.weightsManifest.flatMap((g) => g.weights);
  if (opts.dynamicBatch) makeBatchDynamic(nodes as never, weightSpecs, weightData);
  return { nodes, weightSpecs, weightData };
}

/**
 * Converts a tfjs model.json file to ONNX bytes (no cache): `vigil models convert --file`, and Vigil's
 * own style nets shipped as ONNX under models/.
 */
export function convertFile(
  jsonPath: string,
  opts: { outputs?: string[]; name?: string; dynamicBatch?: boolean } = {},
): { bytes: Uint8Array; nodes: number; hash: string; outputs: string[] } {
  const g = readTfGraphFile(jsonPath, opts);
  const model = convertTfGraph(g, {
    outputs: opts.outputs,
    name: opts.name,
    metadata: { source: jsonPath },
  });
  return {
    bytes: encodeModel(model),
    nodes: model.graph.node.length,
    hash: sourceHash(g, opts.outputs ?? []),
    outputs: model.graph.output.map((o) => o.name),
  };
}

/** The default cache folder: `<dataDir>/onnx`. */
export const onnxCacheDir = (dataDir: string): string => join(dataDir, 'onnx');

/**
 * The ONNX model of a manifest model: read from the cache when the source hash matches, else
 * converted and written (atomically: concurrent workers never read a half-written file).
 */
export function convertCached(
  m: ModelManifest,
  cacheDir: string,
  opts: { force?: boolean } = {},
): ConvertedModel {
  const g = tfGraphOf(m);
  const hash = sourceHash(g, m.outputs);
  const path = join(cacheDir, `${m.name}-${hash.slice(0, 16)}.onnx`);
  if (!opts.force && existsSync(path)) {
    return { path, bytes: readFileSync(path), hash, cached: true, ms: 0 };
  }
  const t0 = performance.now();
  const model = convertTfGraph(g, {
    outputs: m.outputs,
    name: m.name,
    metadata: { source: `${m.package}/${m.path}`, sourceHash: hash },
  });
  const bytes = encodeModel(model);
  const ms = performance.now() - t0;
  mkdirSync(cacheDir, { recursive: true });
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
  const meta: CacheMeta = {
    model: m.name,
    sourceHash: hash,
    converter: CONVERTER_VERSION,
    opset: OPSET,
    outputs: m.outputs,
    onnxBytes: bytes.length,
    nodes: model.graph.node.length,
    date: new Date().toISOString(),
  };
  writeFileSync(`${path.slice(0, -5)}.json`, `${JSON.stringify(meta, null, 2)}\n`);
  return { path, bytes, hash, cached: false, ms };
}
