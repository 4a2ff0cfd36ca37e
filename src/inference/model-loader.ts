import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { packageRoot } from '../util/packages.js';
import { PROJECT_ROOT } from '../util/paths.js';
import type { ModelManifest } from './contract.js';

/** Reads models/manifest.yaml. */
export function readManifests(
  file = join(PROJECT_ROOT, 'models', 'manifest.yaml'),
): Record<string, ModelManifest> {
  const doc = parseYaml(readFileSync(file, 'utf8')) as {
    models: Record<string, Omit<ModelManifest, 'name'>>;
  };
  return Object.fromEntries(Object.entries(doc.models).map(([name, m]) => [name, { name, ...m }]));
}

export function manifest(name: string): ModelManifest {
  const all = readManifests();
  const m = all[name];
  if (!m)
    throw new Error(`unknown model "${name}" (models/manifest.yaml has: ${Object.keys(all).join(', ')})`);
  return m;
}

/** Absolute path of a model's model.json. */
export function modelJsonPath(m: ModelManifest): string {
  if (m.package === 'vigil') return join(PROJECT_ROOT, m.path);
  return join(packageRoot(m.package), m.path);
}

interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string };
}
interface GraphNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, { shape?: { dim?: Array<{ size: string }> } }>;
}

/** tfjs ModelArtifacts as read from disk (the shape tfjs's IOHandler.load returns). */
export interface DiskArtifacts {
  modelTopology: { node: GraphNode[] } & Record<string, unknown>;
  weightSpecs: WeightSpec[];
  weightData: ArrayBuffer;
  format?: string;
  generatedBy?: string;
  convertedBy?: string;
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };

/**
 * Reads model.json and its weight files into tfjs artifacts. With `dynamicBatch`, the input
 * placeholder's batch dimension becomes -1 and Reshape targets that hard-code batch 1 get -1, so
 * one call can run a whole cross-stream batch.
 */
export function readArtifacts(m: ModelManifest): DiskArtifacts {
  const jsonPath = modelJsonPath(m);
  const json = JSON.parse(readFileSync(jsonPath, 'utf8')) as {
    modelTopology: DiskArtifacts['modelTopology'];
    weightsManifest: Array<{ paths: string[]; weights: WeightSpec[] }>;
    format?: string;
    generatedBy?: string;
    convertedBy?: string;
  };
  const parts = json.weightsManifest.flatMap((g) =>
    g.paths.map((p) => readFileSync(join(dirname(jsonPath), p))),
  );
  const total = parts.reduce((a, b) => a + b.length, 0);
  const weights = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    weights.set(p, o);
    o += p.length;
  }
  const weightSpecs = json.weightsManifest.flatMap((g) => g.weights);
  if (m.dynamicBatch) makeBatchDynamic(json.modelTopology.node, weightSpecs, weights);
  return {
    modelTopology: json.modelTopology,
    weightSpecs,
    weightData: weights.buffer,
    format: json.format,
    generatedBy: json.generatedBy,
    convertedBy: json.convertedBy,
  };
}

/** Patches a graph exported with batch size 1 so that it accepts any batch size. */
export function makeBatchDynamic(nodes: GraphNode[], specs: WeightSpec[], weights: Uint8Array): number {
  let patched = 0;
  for (const n of nodes) {
    const dim = n.op === 'Placeholder' ? n.attr?.shape?.shape?.dim : undefined;
    if (dim?.[0] && dim[0].size === '1') {
      dim[0].size = '-1';
      patched++;
    }
  }
  const reshapeTargets = new Set(
    nodes.filter((n) => n.op === 'Reshape' && n.input?.[1]).map((n) => n.input?.[1]),
  );
  let off = 0;
  for (const s of specs) {
    const count = s.shape.reduce((a, b) => a * b, 1);
    const bytes = count * (BYTES[s.quantization?.dtype ?? s.dtype] ?? 4);
    if (reshapeTargets.has(s.name) && s.dtype === 'int32' && !s.quantization && count >= 2) {
      const dv = new DataView(weights.buffer, weights.byteOffset + off, bytes);
      if (dv.getInt32(0, true) === 1) {
        dv.setInt32(0, -1, true);
        patched++;
      }
    }
    off += bytes;
  }
  return patched;
}
