/**
 * Convolutions (plain and depthwise, with tfjs's fused bias / batch-norm and activations), batch
 * normalisation and dense layers (MatMul as Gemm). Filters are constants, transposed once at
 * conversion: HWIO -> OIHW, depthwise HW(C)(M) -> grouped (C*M)1HW.
 */
import type { ConstTensor } from '../../weights.js';
import { transposeData } from '../../weights.js';
import { attr, type OnnxGraphBuilder, type Val } from '../onnx-graph.js';
import { attrBool, attrFloat, attrStrList, type TfNode, UnsupportedOpError } from '../tf-graph.js';
import type { OpConverter } from './types.js';
import { checkNhwc, convPadding, spatial } from './window-attrs.js';

/** A conv filter in ONNX's layout, with the bias (if fused) and what is left of the fused ops. */
interface ConvWeights {
  wData: Float32Array;
  wShape: number[];
  bias?: Float32Array;
  /** Fused activations still to apply, and the inputs after the fused arguments. */
  acts: string[];
  rest: Val[];
}

function filterToOnnx(filter: ConstTensor, depthwise: boolean): { wData: Float32Array; wShape: number[] } {
  const [kh, kw, ci, co] = filter.shape as [number, number, number, number];
  if (depthwise) {
    const t = transposeData(filter.data as Float32Array, filter.shape, [2, 3, 0, 1]);
    return { wData: t.data, wShape: [ci * co, 1, kh, kw] };
  }
  const t = transposeData(filter.data as Float32Array, filter.shape, [3, 2, 0, 1]);
  return { wData: t.data, wShape: t.shape };
}

/** Folds a fused BiasAdd or FusedBatchNorm into the filter and bias (batch norm scales the filter). */
function foldFusedArgs(g: OnnxGraphBuilder, n: TfNode, w: ConvWeights, args: Val[]): ConvWeights {
  const fused = n.op.startsWith('_Fused') || n.op.startsWith('Fused') ? attrStrList(n, 'fused_ops') : [];
  if (fused[0] === 'BiasAdd') {
    const b = g.constOf(n, args[0], 'bias');
    return {
      ...w,
      bias: Float32Array.from(b.data as Float32Array),
      rest: args.slice(1),
      acts: fused.slice(1),
    };
  }
  if (fused[0] === 'FusedBatchNorm') {
    const [scale, offset, mean, variance] = [0, 1, 2, 3].map(
      (i) => g.constOf(n, args[i], 'batch-norm argument').data as Float32Array,
    ) as [Float32Array, Float32Array, Float32Array, Float32Array];
    const eps = attrFloat(n, 'epsilon', 1e-3);
    const outCh = w.wShape[0] as number;
    const per = w.wData.length / outCh;
    const bias = new Float32Array(outCh);
    const wData = Float32Array.from(w.wData);
    for (let o = 0; o < outCh; o++) {
      const s = (scale[o] as number) / Math.sqrt((variance[o] as number) + eps);
      for (let k = 0; k < per; k++) wData[o * per + k] = (wData[o * per + k] as number) * s;
      bias[o] = (offset[o] as number) - (mean[o] as number) * s;
    }
    return { ...w, wData, bias, rest: args.slice(4), acts: fused.slice(1) };
  }
  if (fused.length) throw new UnsupportedOpError(n.op, n.name, `fused_ops ${fused.join('+')}`);
  return { ...w, rest: args, acts: fused };
}

function conv(g: OnnxGraphBuilder, n: TfNode, depthwise: boolean): Val {
  checkNhwc(n);
  const [x, w, ...args] = g.inputsOf(n);
  if (!x || !w) throw new UnsupportedOpError(n.op, n.name, 'missing inputs');
  const filter = g.constOf(n, w, 'filter');
  if (filter.shape.length !== 4) throw new UnsupportedOpError(n.op, n.name, 'filter must be 4-D');
  const [kh, kw, ci] = filter.shape as [number, number, number, number];
  const { wData, wShape, bias, acts, rest } = foldFusedArgs(
    g,
    n,
    { ...filterToOnnx(filter, depthwise), acts: [], rest: [] },
    args,
  );
  const outCh = wShape[0] as number;
  const [sh, sw] = spatial(n, 'strides', 1);
  const [dh, dw] = spatial(n, 'dilations', 1);
  const xin = g.nchw(x);
  const convIns = [xin.name, g.init({ dtype: 'float32', shape: wShape, data: wData }, `${n.name}/W`)];
  if (bias) convIns.push(g.init({ dtype: 'float32', shape: [outCh], data: bias }, `${n.name}/B`));
  const convOut = acts.length ? `${n.name}__conv` : n.name;
  g.emit('Conv', convIns, [convOut], convOut, [
    attr.ints('kernel_shape', [kh, kw]),
    attr.ints('strides', [sh, sw]),
    attr.ints('dilations', [dh, dw]),
    attr.i('group', depthwise ? ci : 1),
    ...convPadding(n),
  ]);
  return g.activations(n, acts, { name: convOut, rank: 4, layout: 'nchw' }, rest[0]);
}

function matmul(g: OnnxGraphBuilder, n: TfNode): Val {
  const [a, b, ...args] = g.inputsOf(n);
  if (!a || !b) throw new UnsupportedOpError(n.op, n.name, 'missing inputs');
  if (a.rank !== 2 || b.rank !== 2) throw new UnsupportedOpError(n.op, n.name, 'only 2-D MatMul');
  const ta = attrBool(n, 'transpose_a');
  const tb = attrBool(n, 'transpose_b');
  const fused = n.op === '_FusedMatMul' ? attrStrList(n, 'fused_ops') : [];
  let acts = fused;
  const gemmIns = [g.ref(a), g.ref(b)];
  let rest = args;
  if (fused[0] === 'BiasAdd') {
    gemmIns.push(g.ref(args[0] as Val));
    acts = fused.slice(1);
    rest = args.slice(1);
  } else if (fused.length) throw new UnsupportedOpError(n.op, n.name, `fused_ops ${fused.join('+')}`);
  const out = acts.length ? `${n.name}__gemm` : n.name;
  g.emit('Gemm', gemmIns, [out], out, [attr.i('transA', ta ? 1 : 0), attr.i('transB', tb ? 1 : 0)]);
  return g.activations(n, acts, { name: out, rank: 2, layout: 'nhwc' }, rest[0]);
}

function batchNorm(g: OnnxGraphBuilder, n: TfNode): Val {
  checkNhwc(n);
  const [x, ...p] = g.inputsOf(n);
  if (!x || p.length < 4)
    throw new UnsupportedOpError(n.op, n.name, 'needs x, scale, offset, mean, variance');
  const xin = g.nchw(x);
  g.emit('BatchNormalization', [xin.name, ...p.slice(0, 4).map((v) => g.ref(v))], [n.name], n.name, [
    attr.f('epsilon', attrFloat(n, 'epsilon', 1e-3)),
  ]);
  return { name: n.name, rank: 4, layout: 'nchw' };
}

export const CONV_OPS: Record<string, OpConverter> = {
  Conv2D: (g, n) => conv(g, n, false),
  _FusedConv2D: (g, n) => conv(g, n, false),
  DepthwiseConv2dNative: (g, n) => conv(g, n, true),
  FusedDepthwiseConv2dNative: (g, n) => conv(g, n, true),
  MatMul: matmul,
  _FusedMatMul: matmul,
  FusedBatchNorm: batchNorm,
  FusedBatchNormV3: batchNorm,
};
