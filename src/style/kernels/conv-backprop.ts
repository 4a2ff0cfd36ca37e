import type { backend_util, TensorInfo } from '@tensorflow/tfjs-core';
import { type KernelArgs, type Tf, WasmOps } from './wasm-ops.js';

type Conv2DInfo = backend_util.Conv2DInfo;
type Pad = 'same' | 'valid' | number | backend_util.ExplicitPadding;
type Rounding = 'floor' | 'round' | 'ceil' | undefined;
type Shape4 = [number, number, number, number];

interface ConvAttrs {
  strides: number | [number, number];
  pad: Pad;
  dilations?: number | [number, number];
  dimRoundingMode?: Rounding;
  dataFormat?: 'NHWC' | 'NCHW';
}

function checkAttrs(kernel: string, a: ConvAttrs, tf: Tf): void {
  if (a.dataFormat === 'NCHW') throw new Error(`wasm ${kernel}: only NHWC (channelsLast) is supported`);
  if (a.dilations !== undefined && !tf.backend_util.tupleValuesAreOne(a.dilations))
    throw new Error(`wasm ${kernel}: dilations > 1 are not supported (got ${a.dilations})`);
}

/**
 * Filter-tap views of a convolution's input. Tap (a, b) is the input pixel every output pixel reads
 * through filter element (a, b): `xpad[n, a + sh*i, b + sw*j, c]` for i < outH, j < outW, returned
 * as `[n*outH*outW, c]`. The input is padded (or cropped) once to the extent the taps reach and, for
 * strides > 1, split once into its sh*sw phases, so that every tap is a slice of whole rows of
 * contiguous `outW*c` runs (a Slice kernel copy) instead of a strided gather (wasm's StridedSlice
 * with strides > 1 is ~100x slower per element).
 */
function tapSlicer(ops: WasmOps, x: TensorInfo, info: Conv2DInfo): (a: number, b: number) => TensorInfo {
  const [n, h, w, c] = x.shape as Shape4;
  const { strideHeight: sh, strideWidth: sw, outHeight: oh, outWidth: ow } = info;
  const { top, left } = info.padInfo;
  const hp = Math.ceil((sh * (oh - 1) + info.filterHeight) / sh) * sh;
  const wp = Math.ceil((sw * (ow - 1) + info.filterWidth) / sw) * sw;
  let xp = ops.padOrCrop(x, [
    [0, 0],
    [top, hp - top - h],
    [left, wp - left - w],
    [0, 0],
  ]);
  const wq = wp / sw;
  if (sh > 1 || sw > 1) {
    // [n, hp/sh, sh, wq, sw, c] -> [n, hp/sh, sh, sw, wq, c]: phase (r, q) rows are contiguous
    const split = ops.reshape(xp, [n, hp / sh, sh, wq, sw, c]);
    xp = ops.transpose(split, [0, 1, 2, 4, 3, 5]);
  }
  const rows = ops.reshape(xp, [n, hp / sh, sh * sw * wq * c]);
  return (a, b) => {
    const r = a % sh;
    const q = b % sw;
    const i0 = (a - r) / sh;
    const j0 = (b - q) / sw;
    const slab = ops.slice(rows, [0, i0, ((r * sw + q) * wq + j0) * c], [n, oh, ow * c]);
    const flat = ops.reshape(slab, [n * oh * ow, c]);
    ops.dispose(slab);
    return flat;
  };
}

/**
 * Conv2DBackpropFilter on wasm: dW[a, b, :, :] = tap(a, b)^T dy, computed as (dy^T tap(a, b))^T so that
 * every product is a plain matMul (XNNPACK) of dy^T (transposed once) with a tap slab; the kh*kw
 * `[outC, inC]` blocks are stacked and transposed once into `[kh, kw, inC, outC]`.
 */
export function conv2DBackpropFilter(tf: Tf, args: KernelArgs): TensorInfo {
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const attrs = args.attrs as unknown as ConvAttrs & { filterShape: Shape4 };
  checkAttrs('Conv2DBackpropFilter', attrs, tf);
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as Shape4,
    attrs.filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
  );
  const ops = new WasmOps(tf, args.backend);
  try {
    const [kh, kw, ci, co] = attrs.filterShape;
    const m = info.batchSize * info.outHeight * info.outWidth;
    const dyT = ops.transpose(ops.reshape(dy, [m, co]), [1, 0]);
    const tap = tapSlicer(ops, x, info);
    const blocks: TensorInfo[] = [];
    for (let a = 0; a < kh; a++)
      for (let b = 0; b < kw; b++) {
        const slab = tap(a, b);
        blocks.push(ops.matMul(dyT, slab)); // [co, ci]
        ops.dispose(slab);
      }
    const stacked = ops.reshape(ops.concat(blocks, 0), [kh * kw, co, ci]);
    const out = ops.reshape(ops.transpose(stacked, [0, 2, 1]), [kh, kw, ci, co]);
    return ops.release(out);
  } finally {
    ops.free();
  }
}

/**
 * DepthwiseConv2dNativeBackpropFilter on wasm: dW[a, b, c, k] = sum over pixels of tap(a, b)[., c] *
 * dy[., c*mult + k]: one Multiply per tap and its pixel sum as a matMul with a row of ones (a Sum over
 * the outer axis would transpose first).
 */
export function depthwiseBackpropFilter(tf: Tf, args: KernelArgs): TensorInfo {
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const attrs = args.attrs as unknown as ConvAttrs & { filterShape: Shape4 };
  checkAttrs('DepthwiseConv2dNativeBackpropFilter', attrs, tf);
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as Shape4,
    attrs.filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    true,
  );
  const ops = new WasmOps(tf, args.backend);
  try {
    const [kh, kw, c, mult] = attrs.filterShape;
    const m = info.batchSize * info.outHeight * info.outWidth;
    const dy2 = ops.reshape(dy, mult === 1 ? [m, c] : [m, c, mult]);
    const ones = ops.fill([1, m], 1);
    const tap = tapSlicer(ops, x, info);
    const rows: TensorInfo[] = [];
    for (let a = 0; a < kh; a++)
      for (let b = 0; b < kw; b++) {
        const slab = tap(a, b);
        const s3 = mult === 1 ? slab : ops.reshape(slab, [m, c, 1]);
        const prod = ops.mul(s3, dy2);
        if (s3 !== slab) ops.dispose(s3);
        ops.dispose(slab);
        const p2 = mult === 1 ? prod : ops.reshape(prod, [m, c * mult]);
        rows.push(ops.matMul(ones, p2)); // [1, c*mult]
        if (p2 !== prod) ops.dispose(p2);
        ops.dispose(prod);
      }
    return ops.release(ops.reshape(ops.concat(rows, 0), [kh, kw, c, mult]));
  } finally {
    ops.free();
  }
}

/**
 * dy spread onto the stride grid (zeros between, `s-1` trailing) and padded or cropped so that a
 * stride-1 'valid' correlation with the 180-degree-rotated filter yields the input gradient:
 * returns that tensor and the remaining (non-negative) padding for the forward kernel to apply.
 */
function transposedConvInput(
  ops: WasmOps,
  dy: TensorInfo,
  info: Conv2DInfo,
): { z: TensorInfo; pad: [[0, 0], [number, number], [number, number], [0, 0]] } {
  const [n, oh, ow, c] = dy.shape as Shape4;
  const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw } = info;
  let z = dy;
  if (sh > 1 || sw > 1) {
    const d6 = ops.reshape(dy, [n, oh, 1, ow, 1, c]);
    const p6 = ops.pad(d6, [
      [0, 0],
      [0, 0],
      [0, sh - 1],
      [0, 0],
      [0, sw - 1],
      [0, 0],
    ]);
    z = ops.reshape(p6, [n, oh * sh, ow * sw, c]);
  }
  const pt = kh - 1 - info.padInfo.top;
  const pb = info.inHeight + info.padInfo.top - oh * sh;
  const pl = kw - 1 - info.padInfo.left;
  const pr = info.inWidth + info.padInfo.left - ow * sw;
  if (pt < 0 || pb < 0 || pl < 0 || pr < 0)
    z = ops.padOrCrop(z, [
      [0, 0],
      [Math.min(pt, 0), Math.min(pb, 0)],
      [Math.min(pl, 0), Math.min(pr, 0)],
      [0, 0],
    ]);
  return {
    z,
    pad: [
      [0, 0],
      [Math.max(pt, 0), Math.max(pb, 0)],
      [Math.max(pl, 0), Math.max(pr, 0)],
      [0, 0],
    ],
  };
}

/**
 * DepthwiseConv2dNativeBackpropInput on wasm: the transposed depthwise convolution as wasm's forward
 * DepthwiseConv2dNative (XNNPACK) over dy spread on the stride grid, with the filter rotated 180
 * degrees; a channel multiplier > 1 runs as c*mult channels summed per input channel.
 */
export function depthwiseBackpropInput(tf: Tf, args: KernelArgs): TensorInfo {
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  const attrs = args.attrs as unknown as ConvAttrs & { inputShape: Shape4 };
  checkAttrs('DepthwiseConv2dNativeBackpropInput', attrs, tf);
  const info = tf.backend_util.computeConv2DInfo(
    attrs.inputShape,
    filter.shape as Shape4,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    true,
  );
  const ops = new WasmOps(tf, args.backend);
  try {
    const [kh, kw, c, mult] = filter.shape as Shape4;
    const { z, pad } = transposedConvInput(ops, dy, info);
    const rot = ops.reshape(ops.reverse(filter, [0, 1]), [kh, kw, c * mult, 1]);
    const dx = ops.run('DepthwiseConv2dNative', { x: z, filter: rot }, { strides: 1, pad, dilations: 1 });
    if (mult === 1) return ops.release(dx);
    const [n, h, w] = attrs.inputShape;
    return ops.release(ops.sum(ops.reshape(dx, [n, h, w, c, mult]), [4]));
  } finally {
    ops.free();
  }
}

/**
 * Conv2DBackpropInput on wasm through the forward Conv2D (XNNPACK): dy spread on the stride grid,
 * correlated with the filter rotated 180 degrees and its in/out channels swapped. Not registered by
 * default (wasm has its own Conv2DBackpropInput, a plain loop ~10x slower than this): see
 * registerWasmGradKernels' `replace` option.
 */
export function conv2DBackpropInput(tf: Tf, args: KernelArgs): TensorInfo {
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  const attrs = args.attrs as unknown as ConvAttrs & { inputShape: Shape4 };
  checkAttrs('Conv2DBackpropInput', attrs, tf);
  const info = tf.backend_util.computeConv2DInfo(
    attrs.inputShape,
    filter.shape as Shape4,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
  );
  const ops = new WasmOps(tf, args.backend);
  try {
    const { z, pad } = transposedConvInput(ops, dy, info);
    const rot = ops.transpose(ops.reverse(filter, [0, 1]), [0, 1, 3, 2]);
    const dx = ops.run(
      'Conv2D',
      { x: z, filter: rot },
      { strides: 1, pad, dilations: 1, dataFormat: 'NHWC' },
    );
    return ops.release(dx);
  } finally {
    ops.free();
  }
}
