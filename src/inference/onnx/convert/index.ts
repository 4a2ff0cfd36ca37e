/**
 * Vigil's own tfjs graph model -> ONNX converter. Reads a tfjs graph (model.json topology + decoded
 * weights) and writes an ONNX graph (opset 17) that ONNX Runtime runs:
 * - the model's input and outputs keep TensorFlow's NHWC layout (the inference contract), while
 *   activations between them are NCHW, ONNX's native layout: convolution filters are transposed
 *   (HWIO -> OIHW, depthwise -> grouped OIHW), per-channel constants reshaped to [C,1,1], axes of
 *   reductions, concatenations and paddings remapped; layout-bound ops (Reshape, Transpose,
 *   StridedSlice, Softmax...) get their input back in NHWC through a Transpose;
 * - the batch dimension of the input is symbolic, so one call runs a whole cross-stream batch;
 * - only the nodes the requested outputs depend on are converted.
 * An op it cannot convert is an error naming the op and the node (`UnsupportedOpError`).
 * The parts: tf-graph.ts (reading tfjs nodes), onnx-graph.ts (the ONNX graph being written and the
 * layout of its values), ops/ (one converter per tfjs op, by family), this file (the walk).
 */
import { createHash } from 'node:crypto';
import { DataType, type OnnxModel } from '../proto.js';
import { decodeWeights } from '../weights.js';
import { OnnxGraphBuilder } from './onnx-graph.js';
import { CONV_OPS } from './ops/conv.js';
import { ELEMENTWISE_OPS } from './ops/elementwise.js';
import { GRAPH_IO_OPS } from './ops/graph-io.js';
import { SHAPE_OPS } from './ops/shape.js';
import { SPATIAL_OPS } from './ops/spatial.js';
import type { OpConverter } from './ops/types.js';
import { parseInput, sinkOutputs, type TfGraph, type TfNode, UnsupportedOpError } from './tf-graph.js';

export { sinkOutputs, type TfGraph, type TfNode, UnsupportedOpError } from './tf-graph.js';

/** Bumped when the converter's output changes (part of the cache key). */
export const CONVERTER_VERSION = 1;
export const OPSET = 17;

const OP_CONVERTERS: Record<string, OpConverter> = {
  ...GRAPH_IO_OPS,
  ...CONV_OPS,
  ...ELEMENTWISE_OPS,
  ...SPATIAL_OPS,
  ...SHAPE_OPS,
};

/** The ops the converter handles (fused variants included). */
export const SUPPORTED_OPS: readonly string[] = Object.keys(OP_CONVERTERS);

export interface ConvertOptions {
  /** Output node names, in order (default: the graph's sinks). */
  outputs?: string[];
  /** Graph name (and metadata). */
  name?: string;
  /** Extra metadata_props. */
  metadata?: Record<string, string>;
}

/** Hash of a tfjs model's topology and weights (the conversion cache key, with CONVERTER_VERSION). */
export function sourceHash(g: TfGraph, outputs: string[]): string {
  return createHash('sha256')
    .update(JSON.stringify({ nodes: g.nodes, specs: g.weightSpecs, outputs, v: CONVERTER_VERSION }))
    .update(g.weightData)
    .digest('hex');
}

/** Converts a tfjs graph model to an ONNX model (see the module comment). */
export function convertTfGraph(g: TfGraph, opts: ConvertOptions = {}): OnnxModel {
  const byName = new Map(g.nodes.map((n) => [n.name, n]));
  const onnx = new OnnxGraphBuilder(decodeWeights(g.weightSpecs, g.weightData));
  const outputs = opts.outputs?.length ? opts.outputs : sinkOutputs(g.nodes);
  for (const o of outputs)
    if (!byName.has(parseInput(o)?.node ?? o)) throw new Error(`output "${o}" is not a node of the graph`);
  for (const n of dependencyOrder(byName, outputs)) onnx.set(n, convertNode(onnx, n));
  return {
    irVersion: 8,
    opset: OPSET,
    producerName: 'vigil',
    producerVersion: `tfjs-to-onnx ${CONVERTER_VERSION}`,
    metadata: { ...(opts.metadata ?? {}), converter: `vigil tfjs-to-onnx ${CONVERTER_VERSION}` },
    graph: {
      name: opts.name ?? 'vigil',
      node: onnx.nodes,
      initializer: onnx.inits,
      input: onnx.inputs,
      output: graphOutputs(onnx, outputs),
    },
  };
}

function convertNode(onnx: OnnxGraphBuilder, n: TfNode) {
  const convert = Object.hasOwn(OP_CONVERTERS, n.op) ? OP_CONVERTERS[n.op] : undefined;
  if (!convert) throw new UnsupportedOpError(n.op, n.name);
  return convert(onnx, n);
}

/** The graph outputs, in NHWC under the TF names the manifest uses. */
function graphOutputs(onnx: OnnxGraphBuilder, outputs: string[]): OnnxModel['graph']['output'] {
  return outputs.map((o) => {
    let v = onnx.value(o);
    if (v.rank === 4 && v.layout === 'nchw' && v.name === o) {
      // the NCHW value carries the output's name: rename it, the NHWC transpose gets the name
      onnx.rename(v.name, `${o}__nchw_out`);
      v = { ...v, name: `${o}__nchw_out` };
    }
    v = onnx.nhwc(v);
    if (v.c) v = { ...v, name: onnx.init(v.c, `${o}__const`) };
    if (v.name !== o) onnx.emit('Identity', [v.name], [o], `${o}__out`);
    return { name: o, elemType: DataType.FLOAT };
  });
}

/** The nodes the outputs depend on, inputs before their consumers. */
function dependencyOrder(byName: Map<string, TfNode>, outputs: string[]): TfNode[] {
  const out: TfNode[] = [];
  const state = new Map<string, 1 | 2>();
  const visit = (name: string) => {
    const st = state.get(name);
    if (st === 2) return;
    if (st === 1) throw new Error(`the graph has a cycle through node "${name}"`);
    const n = byName.get(name);
    if (!n) throw new Error(`node "${name}" is referenced but not defined in the graph`);
    state.set(name, 1);
    for (const i of n.input ?? []) {
      const p = parseInput(i);
      if (p) visit(p.node);
    }
    state.set(name, 2);
    out.push(n);
  };
  // iterative-safe enough: model graphs here are a few hundred nodes deep at most
  for (const o of outputs) visit(parseInput(o)?.node ?? o);
  return out;
}

/** Lists the distinct ops of a graph that the converter cannot handle (for a clear early error). */
export function unsupportedOps(nodes: TfNode[]): Array<{ op: string; node: string }> {
  const ok = new Set<string>(SUPPORTED_OPS);
  return nodes.filter((n) => !ok.has(n.op)).map((n) => ({ op: n.op, node: n.name }));
}
