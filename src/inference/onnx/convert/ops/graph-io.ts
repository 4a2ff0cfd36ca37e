/**
 * The graph's own nodes: the input (its batch dimension symbolic, so one call runs a whole
 * cross-stream batch), constants (from the weight files) and the pass-through ops.
 */
import { DataType } from '../../proto.js';
import { UnsupportedOpError } from '../tf-graph.js';
import type { OpConverter } from './types.js';

const input: OpConverter = (g, n) => {
  const dims = (n.attr?.shape?.shape?.dim ?? []).map((d) => Number(d.size));
  if (n.attr?.dtype?.type && n.attr.dtype.type !== 'DT_FLOAT')
    throw new UnsupportedOpError(n.op, n.name, `input dtype ${n.attr.dtype.type}`);
  const names = ['batch', 'height', 'width', 'channels'];
  const shape = dims.map((d, i) => (i === 0 || d < 0 ? `${names[i] ?? `d${i}`}` : d));
  g.inputs.push({ name: n.name, elemType: DataType.FLOAT, shape });
  return { name: n.name, rank: dims.length, layout: 'nhwc' };
};

const constant: OpConverter = (g, n) => {
  const c = g.weights.get(n.name);
  if (!c) throw new Error(`constant "${n.name}" has no data in the weight files`);
  return { name: n.name, rank: c.shape.length, layout: 'nhwc', c };
};

const passThrough: OpConverter = (g, n) => g.oneInput(n);

export const GRAPH_IO_OPS: Record<string, OpConverter> = {
  Placeholder: input,
  Const: constant,
  Identity: passThrough,
  Snapshot: passThrough,
  StopGradient: passThrough,
};
