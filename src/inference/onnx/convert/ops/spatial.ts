/**
 * Ops over the spatial dimensions: padding (constant and reflect), resizes (nearest and bilinear,
 * with TF's align_corners / half_pixel_centers mapped to ONNX coordinate modes), pooling, and
 * reductions (whose axes follow the value into NCHW when the result keeps its layout).
 */
import { DataType, type OnnxAttribute } from '../../proto.js';
import { attr, type Layout, type OnnxGraphBuilder, POS_NCHW, TO_NCHW, type Val } from '../onnx-graph.js';
import { attrBool, attrStr, type TfNode, UnsupportedOpError } from '../tf-graph.js';
import type { OpConverter } from './types.js';
import { checkNhwc, convPadding, spatial } from './window-attrs.js';

function pad(g: OnnxGraphBuilder, n: TfNode, x: Val, padsV: Val | undefined, mode: string, value?: Val): Val {
  const p = g.constOf(n, padsV, 'paddings');
  const rows = Array.from({ length: x.rank }, (_, i) => [Number(p.data[2 * i]), Number(p.data[2 * i + 1])]);
  let order = rows;
  if (x.rank === 4 && x.layout === 'nchw') order = TO_NCHW.map((a) => rows[a] as number[]);
  const pads = [...order.map((r) => r[0] as number), ...order.map((r) => r[1] as number)];
  const ins = [g.ref(x), g.i64(pads, `${n.name}/pads`)];
  if (value) ins.push(g.ref(value));
  g.emit('Pad', ins, [n.name], n.name, [attr.s('mode', mode)]);
  return { name: n.name, rank: x.rank, layout: x.layout };
}

function mirrorPad(g: OnnxGraphBuilder, n: TfNode): Val {
  const mode = attrStr(n, 'mode') ?? 'REFLECT';
  if (mode !== 'REFLECT') throw new UnsupportedOpError(n.op, n.name, `mode "${mode}" (only REFLECT)`);
  const [x, p] = g.inputsOf(n);
  return pad(g, n, x as Val, p, 'reflect');
}

function constantPad(g: OnnxGraphBuilder, n: TfNode): Val {
  const [x, p, v] = g.inputsOf(n);
  return pad(g, n, x as Val, p, 'constant', v);
}

/** ONNX Resize attributes for TF's resize flags. */
function resizeModeAttrs(n: TfNode, mode: 'nearest' | 'linear'): OnnxAttribute[] {
  const alignCorners = attrBool(n, 'align_corners');
  const halfPixel = attrBool(n, 'half_pixel_centers');
  const attrs: OnnxAttribute[] = [attr.s('mode', mode)];
  if (mode === 'nearest') {
    if (alignCorners)
      attrs.push(
        attr.s('coordinate_transformation_mode', 'align_corners'),
        attr.s('nearest_mode', 'round_prefer_ceil'),
      );
    else if (halfPixel)
      attrs.push(
        attr.s('coordinate_transformation_mode', 'tf_half_pixel_for_nn'),
        attr.s('nearest_mode', 'floor'),
      );
    else attrs.push(attr.s('coordinate_transformation_mode', 'asymmetric'), attr.s('nearest_mode', 'floor'));
  } else {
    attrs.push(
      attr.s(
        'coordinate_transformation_mode',
        alignCorners ? 'align_corners' : halfPixel ? 'half_pixel' : 'asymmetric',
      ),
    );
  }
  return attrs;
}

function resize(g: OnnxGraphBuilder, n: TfNode): Val {
  const [x, sizeV] = g.inputsOf(n) as [Val, Val | undefined];
  const mode = n.op === 'ResizeBilinear' ? 'linear' : 'nearest';
  if (!sizeV) throw new UnsupportedOpError(n.op, n.name, 'missing size');
  const xin = g.nchw(x);
  // sizes = [N, C] of the input, then the requested [H, W]
  const shape = g.fresh(`${n.name}/shape`);
  g.emit('Shape', [xin.name], [shape], shape);
  const nc = g.fresh(`${n.name}/nc`);
  g.emit('Slice', [shape, g.i64([0], `${n.name}/s0`), g.i64([2], `${n.name}/s2`)], [nc], nc);
  let hw: string;
  if (sizeV.c) hw = g.i64(Array.from(sizeV.c.data, Number), `${n.name}/hw`);
  else {
    hw = g.fresh(`${n.name}/hw`);
    g.emit('Cast', [sizeV.name], [hw], hw, [attr.i('to', DataType.INT64)]);
  }
  const sizes = g.fresh(`${n.name}/sizes`);
  g.emit('Concat', [nc, hw], [sizes], sizes, [attr.i('axis', 0)]);
  g.emit('Resize', [xin.name, '', '', sizes], [n.name], n.name, resizeModeAttrs(n, mode));
  return { name: n.name, rank: 4, layout: 'nchw' };
}

const pool =
  (op: 'MaxPool' | 'AveragePool'): OpConverter =>
  (g, n) => {
    const x = g.oneInput(n);
    checkNhwc(n);
    const [kh, kw] = spatial(n, 'ksize', 1);
    const [sh, sw] = spatial(n, 'strides', 1);
    const xin = g.nchw(x);
    g.emit(op, [xin.name], [n.name], n.name, [
      attr.ints('kernel_shape', [kh, kw]),
      attr.ints('strides', [sh, sw]),
      ...convPadding(n),
    ]);
    return { name: n.name, rank: 4, layout: 'nchw' };
  };

const reduce =
  (op: 'ReduceMean' | 'ReduceSum' | 'ReduceMax' | 'ReduceMin'): OpConverter =>
  (g, n) => {
    const [x, axesV] = g.inputsOf(n);
    if (!x) throw new UnsupportedOpError(n.op, n.name, 'missing input');
    const axesC = g.constOf(n, axesV, 'axes');
    const keep = attrBool(n, 'keep_dims');
    let axes = Array.from(axesC.data, (a) => (a < 0 ? a + x.rank : a));
    let src = x;
    if (x.rank === 4 && x.layout === 'nchw') {
      const remaining = [0, 1, 2, 3].filter((a) => !axes.includes(a)).map((a) => POS_NCHW[a] as number);
      const ordered = remaining.every((p, i) => i === 0 || p > (remaining[i - 1] as number));
      if (keep || ordered) axes = axes.map((a) => POS_NCHW[a] as number);
      else src = g.nhwc(x);
    }
    const rank = keep ? x.rank : x.rank - axes.length;
    const layout: Layout = rank === 4 && src.layout === 'nchw' ? 'nchw' : 'nhwc';
    const sorted = [...axes].sort((a, b) => a - b);
    // opset 17: ReduceSum takes its axes as an input, the other reductions as an attribute
    if (op === 'ReduceSum')
      g.emit(op, [g.ref(src), g.i64(sorted, `${n.name}/axes`)], [n.name], n.name, [
        attr.i('keepdims', keep ? 1 : 0),
      ]);
    else
      g.emit(op, [g.ref(src)], [n.name], n.name, [
        attr.ints('axes', sorted),
        attr.i('keepdims', keep ? 1 : 0),
      ]);
    return { name: n.name, rank, layout };
  };

export const SPATIAL_OPS: Record<string, OpConverter> = {
  MirrorPad: mirrorPad,
  Pad: constantPad,
  PadV2: constantPad,
  ResizeNearestNeighbor: resize,
  ResizeBilinear: resize,
  MaxPool: pool('MaxPool'),
  AvgPool: pool('AveragePool'),
  Mean: reduce('ReduceMean'),
  Sum: reduce('ReduceSum'),
  Max: reduce('ReduceMax'),
  Min: reduce('ReduceMin'),
};
