/**
 * Small tfjs graph models built in tests (model.json topology + weights), for the ONNX converter:
 * the same format tfjs-converter writes, run by tfjs's own GraphModel for the reference output.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { loadGraphModel } from '@tensorflow/tfjs-converter';
import type { TfGraph, TfNode } from '../../src/inference/onnx/convert/index.js';
import type { WeightSpec } from '../../src/inference/onnx/weights.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** A deterministic pseudo-random sequence in [-1, 1). */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  };
}

/** Builds a graph node by node; weights are appended as float32 / int32 constants. */
export class GraphBuilder {
  readonly nodes: TfNode[] = [];
  readonly specs: WeightSpec[] = [];
  private readonly chunks: Uint8Array[] = [];

  input(name: string, shape: number[]): string {
    this.nodes.push({
      name,
      op: 'Placeholder',
      attr: {
        dtype: { type: 'DT_FLOAT' },
        shape: { shape: { dim: shape.map((size) => ({ size: String(size) })) } } as never,
      },
    });
    return name;
  }

  const(
    name: string,
    shape: number[],
    values: number[] | Float32Array,
    dtype: 'float32' | 'int32' = 'float32',
  ) {
    const data = dtype === 'float32' ? Float32Array.from(values) : Int32Array.from(values);
    this.specs.push({ name, shape, dtype });
    this.chunks.push(new Uint8Array(data.buffer));
    this.nodes.push({
      name,
      op: 'Const',
      attr: { dtype: { type: dtype === 'float32' ? 'DT_FLOAT' : 'DT_INT32' } },
    });
    return name;
  }

  /** A float constant filled from `rnd` scaled by `scale`. */
  rand(name: string, shape: number[], rnd: () => number, scale = 1): string {
    const n = shape.reduce((a, b) => a * b, 1);
    return this.const(
      name,
      shape,
      Array.from({ length: n }, () => rnd() * scale),
    );
  }

  op(name: string, op: string, input: string[], attr: Record<string, unknown> = {}): string {
    const a: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(attr)) {
      if (typeof v === 'string') a[k] = { s: b64(v) };
      else if (typeof v === 'boolean') a[k] = { b: v };
      else if (typeof v === 'number') a[k] = Number.isInteger(v) ? { i: String(v) } : { f: v };
      else if (Array.isArray(v))
        a[k] =
          typeof v[0] === 'string'
            ? { list: { s: (v as string[]).map(b64) } }
            : { list: { i: (v as number[]).map(String) } };
      else a[k] = v;
    }
    this.nodes.push({ name, op, input, attr: { T: { type: 'DT_FLOAT' }, ...a } as never });
    return name;
  }

  graph(): TfGraph {
    const total = this.chunks.reduce((s, c) => s + c.length, 0);
    const weightData = new Uint8Array(total);
    let o = 0;
    for (const c of this.chunks) {
      weightData.set(c, o);
      o += c.length;
    }
    return { nodes: this.nodes, weightSpecs: this.specs, weightData };
  }
}

/** Runs a built graph with tfjs (cpu backend): the reference output. */
export async function runTfjs(
  g: TfGraph,
  input: Float32Array,
  shape: number[],
  outputs: string[],
): Promise<Float32Array[]> {
  await tf.setBackend('cpu');
  const handler = {
    load: async () => ({
      modelTopology: { node: g.nodes, library: {}, versions: { producer: 1 } },
      weightSpecs: g.weightSpecs,
      weightData: g.weightData.slice().buffer,
      format: 'graph-model',
    }),
  };
  const model = await loadGraphModel(handler as never);
  const x = tf.tensor(input, shape, 'float32');
  const res = model.execute(x, outputs);
  const outs = Array.isArray(res) ? res : [res];
  const data = await Promise.all(outs.map(async (t) => (await t.data()) as Float32Array));
  tf.dispose([x, ...outs]);
  model.dispose();
  return data;
}

/** Writes a built graph as a tfjs model.json + weights.bin in `dir`; returns the model.json path. */
export function writeModelJson(dir: string, g: TfGraph): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'weights.bin'), g.weightData);
  const file = join(dir, 'model.json');
  writeFileSync(
    file,
    JSON.stringify({
      format: 'graph-model',
      modelTopology: { node: g.nodes, library: {}, versions: { producer: 1 } },
      weightsManifest: [{ paths: ['weights.bin'], weights: g.weightSpecs }],
    }),
  );
  return file;
}
