/**
 * Elementwise ops: arithmetic with TF broadcasting (lower-rank operands lifted to NCHW when the
 * other side is NCHW), activations, clipping (Maximum / Minimum with a scalar become a Clip, which
 * ONNX Runtime fuses into the convolution before it), Softmax and Cast.
 */
import { DataType } from '../../proto.js';
import { attr, type OnnxGraphBuilder, type Val } from '../onnx-graph.js';
import { attrFloat, type TfNode, UnsupportedOpError } from '../tf-graph.js';
import type { OpConverter } from './types.js';

const binaryOp =
  (onnxOp: string): OpConverter =>
  (g, n) =>
    g.binary(n, onnxOp, ...g.twoInputs(n));

const unaryOp =
  (onnxOp: string): OpConverter =>
  (g, n) =>
    g.unary(n, onnxOp, g.oneInput(n));

function maxOrMin(g: OnnxGraphBuilder, n: TfNode): Val {
  const [a, b] = g.twoInputs(n);
  // Maximum/Minimum with a scalar constant is a Clip (ONNX Runtime fuses it into the conv)
  const scalar = (v: Val) => v.c?.dtype === 'float32' && v.c.data.length === 1;
  const [x, k] = scalar(b) && !a.c ? [a, b.c] : scalar(a) && !b.c ? [b, a.c] : [undefined, undefined];
  if (x && k) {
    const kv = k.data[0] as number;
    return g.clip(x, n.op === 'Maximum' ? kv : undefined, n.op === 'Minimum' ? kv : undefined, n.name);
  }
  return g.binary(n, n.op === 'Maximum' ? 'Max' : 'Min', a, b);
}

function addN(g: OnnxGraphBuilder, n: TfNode): Val {
  const xs = g.inputsOf(n);
  const nchw = xs.some((x) => x.rank === 4 && x.layout === 'nchw');
  const aligned = xs.map((x) => (nchw ? g.alignToNchw(x, n) : x));
  g.emit(
    'Sum',
    aligned.map((x) => g.ref(x)),
    [n.name],
    n.name,
  );
  return { name: n.name, rank: Math.max(...xs.map((x) => x.rank)), layout: nchw ? 'nchw' : 'nhwc' };
}

function squaredDifference(g: OnnxGraphBuilder, n: TfNode): Val {
  const [a, b] = g.twoInputs(n);
  const d = g.binary(n, 'Sub', a, b, g.fresh(`${n.name}/diff`));
  g.emit('Mul', [d.name, d.name], [n.name], n.name);
  return { ...d, name: n.name };
}

function square(g: OnnxGraphBuilder, n: TfNode): Val {
  const x = g.oneInput(n);
  g.emit('Mul', [g.ref(x), g.ref(x)], [n.name], n.name);
  return { name: n.name, rank: x.rank, layout: x.layout };
}

function rsqrt(g: OnnxGraphBuilder, n: TfNode): Val {
  const x = g.oneInput(n);
  const s = g.unary(n, 'Sqrt', x, [], g.fresh(`${n.name}/sqrt`));
  return g.unary(n, 'Reciprocal', s);
}

function clipByValue(g: OnnxGraphBuilder, n: TfNode): Val {
  const [x, lo, hi] = g.inputsOf(n);
  if (!x || !lo || !hi) throw new UnsupportedOpError(n.op, n.name, 'needs x, min and max');
  if (lo.c && hi.c && lo.c.data.length === 1 && hi.c.data.length === 1)
    return g.clip(x, lo.c.data[0] as number, hi.c.data[0] as number, n.name);
  const m = g.binary(n, 'Min', x, hi, g.fresh(`${n.name}/min`));
  return g.binary(n, 'Max', m, lo);
}

const CAST_TYPES: Record<string, number> = {
  DT_FLOAT: DataType.FLOAT,
  DT_INT32: DataType.INT32,
  DT_BOOL: DataType.BOOL,
};

function cast(g: OnnxGraphBuilder, n: TfNode): Val {
  const to = n.attr?.DstT?.type;
  const t = to ? CAST_TYPES[to] : undefined;
  if (!t) throw new UnsupportedOpError(n.op, n.name, `cast to ${to}`);
  return g.unary(n, 'Cast', g.oneInput(n), [attr.i('to', t)]);
}

export const ELEMENTWISE_OPS: Record<string, OpConverter> = {
  BiasAdd: binaryOp('Add'),
  Add: binaryOp('Add'),
  AddV2: binaryOp('Add'),
  AddN: addN,
  Sub: binaryOp('Sub'),
  Mul: binaryOp('Mul'),
  RealDiv: binaryOp('Div'),
  Div: binaryOp('Div'),
  Maximum: maxOrMin,
  Minimum: maxOrMin,
  Pow: binaryOp('Pow'),
  SquaredDifference: squaredDifference,
  Rsqrt: rsqrt,
  Sqrt: unaryOp('Sqrt'),
  Square: square,
  Exp: unaryOp('Exp'),
  Log: unaryOp('Log'),
  Neg: unaryOp('Neg'),
  Abs: unaryOp('Abs'),
  Floor: unaryOp('Floor'),
  Relu: unaryOp('Relu'),
  Relu6: (g, n) => g.clip(g.oneInput(n), 0, 6, n.name),
  Elu: (g, n) => g.unary(n, 'Elu', g.oneInput(n), [attr.f('alpha', 1)]),
  LeakyRelu: (g, n) => g.unary(n, 'LeakyRelu', g.oneInput(n), [attr.f('alpha', attrFloat(n, 'alpha', 0.2))]),
  Prelu: binaryOp('PRelu'),
  Sigmoid: unaryOp('Sigmoid'),
  Tanh: unaryOp('Tanh'),
  Softmax: (g, n) => g.unary(n, 'Softmax', g.nhwc(g.oneInput(n)), [attr.i('axis', -1)]),
  ClipByValue: clipByValue,
  Cast: cast,
};
