/**
 * Ops that move data between dimensions: Reshape, Squeeze, ExpandDims, Transpose and StridedSlice
 * are layout-bound and work on the NHWC value; ConcatV2 stays NCHW when its inputs are (the axis
 * remapped); DepthToSpace / SpaceToDepth run on NCHW.
 */
import { transposeData } from '../../weights.js';
import { attr, type OnnxGraphBuilder, POS_NCHW, type Val } from '../onnx-graph.js';
import { attrInt, attrInts, type TfNode, UnsupportedOpError } from '../tf-graph.js';
import type { OpConverter } from './types.js';
import { checkNhwc } from './window-attrs.js';

function reshape(g: OnnxGraphBuilder, n: TfNode): Val {
  const [x0, s] = g.inputsOf(n);
  if (!x0 || !s) throw new UnsupportedOpError(n.op, n.name, 'needs x and shape');
  const x = g.nhwc(x0);
  if (!s.c) {
    if (s.rank !== 1) throw new UnsupportedOpError(n.op, n.name, 'shape of unknown length');
    throw new UnsupportedOpError(n.op, n.name, 'needs a constant shape');
  }
  const dims = Array.from(s.c.data, Number);
  const shapeName = g.i64(dims, `${n.name}/shape`);
  g.emit('Reshape', [g.ref(x), shapeName], [n.name], n.name);
  return { name: n.name, rank: dims.length, layout: 'nhwc' };
}

function squeeze(g: OnnxGraphBuilder, n: TfNode): Val {
  const x = g.nhwc(g.oneInput(n));
  const dims = attrInts(n, 'squeeze_dims') ?? attrInts(n, 'axis') ?? [];
  if (!dims.length) throw new UnsupportedOpError(n.op, n.name, 'Squeeze without explicit dims');
  const axes = dims.map((d) => (d < 0 ? d + x.rank : d));
  g.emit('Squeeze', [g.ref(x), g.i64(axes, `${n.name}/axes`)], [n.name], n.name);
  return { name: n.name, rank: x.rank - axes.length, layout: 'nhwc' };
}

function expandDims(g: OnnxGraphBuilder, n: TfNode): Val {
  const [x0, a] = g.inputsOf(n);
  const x = g.nhwc(x0 as Val);
  let axis = Number(g.constOf(n, a, 'axis').data[0]);
  if (axis < 0) axis += x.rank + 1;
  g.emit('Unsqueeze', [g.ref(x), g.i64([axis], `${n.name}/axes`)], [n.name], n.name);
  return { name: n.name, rank: x.rank + 1, layout: 'nhwc' };
}

function concat(g: OnnxGraphBuilder, n: TfNode): Val {
  const all = g.inputsOf(n);
  const axisV = all.pop();
  let axis = Number(g.constOf(n, axisV, 'axis').data[0]);
  const rank = all[0]?.rank ?? 0;
  if (axis < 0) axis += rank;
  const nchw = rank === 4 && all.some((x) => x.layout === 'nchw');
  const xs = all.map((x) => (nchw ? g.nchw(x) : g.nhwc(x)));
  g.emit(
    'Concat',
    xs.map((x) => g.ref(x)),
    [n.name],
    n.name,
    [attr.i('axis', nchw ? (POS_NCHW[axis] as number) : axis)],
  );
  return { name: n.name, rank, layout: nchw ? 'nchw' : 'nhwc' };
}

function transpose(g: OnnxGraphBuilder, n: TfNode): Val {
  const [x0, p] = g.inputsOf(n);
  const x = g.nhwc(x0 as Val);
  const perm = Array.from(g.constOf(n, p, 'perm').data, Number);
  if (x.c) {
    const t = transposeData(x.c.data, x.c.shape, perm);
    return { name: n.name, rank: x.rank, layout: 'nhwc', c: { ...x.c, ...t } };
  }
  g.emit('Transpose', [x.name], [n.name], n.name, [attr.ints('perm', perm)]);
  return { name: n.name, rank: x.rank, layout: 'nhwc' };
}

function depthSpace(g: OnnxGraphBuilder, n: TfNode): Val {
  // TF's NHWC DepthToSpace is ONNX's DCR mode on NCHW (depth index = (i * bs + j) * C + c)
  checkNhwc(n);
  const x = g.nchw(g.oneInput(n));
  const attrs = [attr.i('blocksize', attrInt(n, 'block_size', 2))];
  if (n.op === 'DepthToSpace') attrs.push(attr.s('mode', 'DCR'));
  g.emit(n.op, [g.ref(x)], [n.name], n.name, attrs);
  return { name: n.name, rank: 4, layout: 'nchw' };
}

/** ONNX Slice starts/ends for TF's begin/end and masks; shrunk axes are squeezed afterwards. */
function sliceBounds(n: TfNode, begin: number[], end: number[], strides: number[]) {
  const bm = attrInt(n, 'begin_mask', 0);
  const em = attrInt(n, 'end_mask', 0);
  const shrink = attrInt(n, 'shrink_axis_mask', 0);
  if (attrInt(n, 'ellipsis_mask', 0) || attrInt(n, 'new_axis_mask', 0))
    throw new UnsupportedOpError(n.op, n.name, 'ellipsis_mask / new_axis_mask');
  const BIG = 2 ** 31 - 1;
  const starts: number[] = [];
  const ends: number[] = [];
  const squeeze: number[] = [];
  begin.forEach((b, i) => {
    const st = strides[i] ?? 1;
    const bit = 1 << i;
    if (shrink & bit) {
      starts.push(b);
      ends.push(b === -1 ? BIG : b + 1);
      squeeze.push(i);
      return;
    }
    starts.push(bm & bit ? (st > 0 ? 0 : BIG) : b);
    ends.push(em & bit ? (st > 0 ? BIG : -BIG) : (end[i] as number));
  });
  return { starts, ends, squeeze };
}

function stridedSlice(g: OnnxGraphBuilder, n: TfNode): Val {
  const [x0, bV, eV, sV] = g.inputsOf(n);
  if (!x0) throw new UnsupportedOpError(n.op, n.name, 'missing input');
  const x = g.nhwc(x0);
  const begin = Array.from(g.constOf(n, bV, 'begin').data, Number);
  const end = Array.from(g.constOf(n, eV, 'end').data, Number);
  const strides = sV ? Array.from(g.constOf(n, sV, 'strides').data, Number) : begin.map(() => 1);
  const { starts, ends, squeeze } = sliceBounds(n, begin, end, strides);
  const axes = begin.map((_, i) => i);
  const sliced = squeeze.length ? g.fresh(`${n.name}/slice`) : n.name;
  g.emit(
    'Slice',
    [
      x.name,
      g.i64(starts, `${n.name}/starts`),
      g.i64(ends, `${n.name}/ends`),
      g.i64(axes, `${n.name}/axes`),
      g.i64(strides, `${n.name}/steps`),
    ],
    [sliced],
    sliced,
  );
  if (squeeze.length) g.emit('Squeeze', [sliced, g.i64(squeeze, `${n.name}/sq`)], [n.name], n.name);
  return { name: n.name, rank: x.rank - squeeze.length, layout: 'nhwc' };
}

export const SHAPE_OPS: Record<string, OpConverter> = {
  Reshape: reshape,
  Squeeze: squeeze,
  ExpandDims: expandDims,
  ConcatV2: concat,
  Transpose: transpose,
  DepthToSpace: depthSpace,
  SpaceToDepth: depthSpace,
  StridedSlice: stridedSlice,
};
