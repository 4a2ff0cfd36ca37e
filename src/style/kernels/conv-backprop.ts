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

/** Largest tap block (floats) the filter gradients copy out at once: 16 MiB. */
const BLOCK_FLOATS = 1 << 22;

/**
 * Filter-tap copies of a convolution's input, channel-major. Tap (a, b) holds, per input channel, the
 * pixel every output pixel reads through filter element (a, b): `xpad[n, a + sh*i, b + sw*j, c]` as
 * row c of a `[c, n*outH*outW]` matrix (the pixel order of dy). The input is transposed to
 * `[c, n, h, w]`, padded (or cropped) to the extent the taps reach and, for strides > 1, split into its
 * sh*sw phases once, so that a tap is `outH` runs of `outW` contiguous floats per channel and image.
 * The returned function copies the given taps into one `[taps.length, c, n*outH*outW]` tensor.
 */
function channelMajorTaps(
  ops: WasmOps,
  x: TensorInfo,
  info: Conv2DInfo,
): (taps: Array<[number, number]>) => TensorInfo {
  const [n, h, w, c] = x.shape as Shape4;
  const { strideHeight: sh, strideWidth: sw, outHeight: oh, outWidth: ow } = info;
  const { top, left } = info.padInfo;
  const hp = Math.ceil((sh * (oh - 1) + info.filterHeight) / sh) * sh;
  const wp = Math.ceil((sw * (ow - 1) + info.filterWidth) / sw) * sw;
  const xt = ops.transpose(x, [3, 0, 1, 2]);
  const xp = ops.padOrCrop(xt, [
    [0, 0],
    [0, 0],
    [top, hp - top - h],
    [left, wp - left - w],
  ]);
  const hq = hp / sh;
  const wq = wp / sw;
  const phases =
    sh > 1 || sw > 1
      ? ops.reshape(ops.transpose(ops.reshape(xp, [c * n, hq, sh, wq, sw]), [0, 2, 4, 1, 3]), [
          c * n,
          sh * sw,
          hq,
          wq,
        ])
      : ops.reshape(xp, [c * n, 1, hp, wp]);
  return (taps) => {
    const begins = taps.map(([a, b]) => {
      const r = a % sh;
      const q = b % sw;
      return [0, r * sw + q, (a - r) / sh, (b - q) / sw];
    });
    const stacked = ops.sliceStack(phases, begins, [c * n, 1, oh, ow]);
    const out = ops.reshape(stacked, [taps.length, c, n * oh * ow]);
    ops.dispose(stacked);
    return out;
  };
}

/** The filter's taps (a, b) in row-major order, in groups of at most `perBlock`. */
function tapGroups(kh: number, kw: number, perBlock: number): Array<Array<[number, number]>> {
  const all: Array<[number, number]> = [];
  for (let a = 0; a < kh; a++) for (let b = 0; b < kw; b++) all.push([a, b]);
  const g = Math.max(1, Math.min(all.length, perBlock));
  const out: Array<Array<[number, number]>> = [];
  for (let i = 0; i < all.length; i += g) out.push(all.slice(i, i + g));
  return out;
}

/**
 * Conv2DBackpropFilter on wasm: dW[a, b, :, :] = tap(a, b) dy, with the taps channel-major (`[inC,
 * pixels]`) so that blocks of taps stacked as `[taps*inC, pixels]` make one plain matMul (XNNPACK) with
 * dy `[pixels, outC]`, whose packed form XNNPACK reuses across blocks; the blocks' rows are already in
 * `[kh, kw, inC, outC]` order.
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
    const dy2 = ops.reshape(dy, [m, co]);
    const taps = channelMajorTaps(ops, x, info);
    const parts: TensorInfo[] = [];
    for (const group of tapGroups(kh, kw, Math.floor(BLOCK_FLOATS / (ci * m)))) {
      const block = taps(group);
      const rows = ops.reshape(block, [group.length * ci, m]);
      ops.dispose(block);
      parts.push(ops.matMul(rows, dy2)); // [taps*ci, co]
      ops.dispose(rows);
    }
    const all = parts.length === 1 ? (parts[0] as TensorInfo) : ops.concat(parts, 0);
    return ops.release(ops.reshape(all, [kh, kw, ci, co]));
  } finally {
    ops.free();
  }
}

/**
 * DepthwiseConv2dNativeBackpropFilter on wasm: dW[a, b, c, k] = sum over pixels of tap(a, b)[c] *
 * dy[c*mult + k]: blocks of channel-major taps times dy transposed to `[c, mult, pixels]` (one
 * broadcast Multiply), summed over the pixel axis, innermost (one Sum, no transpose).
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
    const dyT = ops.reshape(ops.transpose(ops.reshape(dy, [m, c * mult]), [1, 0]), [c, mult, m]);
    const taps = channelMajorTaps(ops, x, info);
    const parts: TensorInfo[] = [];
    for (const group of tapGroups(kh, kw, Math.floor(BLOCK_FLOATS / (c * mult * m)))) {
      const block = taps(group);
      const b4 = ops.reshape(block, [group.length, c, 1, m]);
      ops.dispose(block);
      const prod = ops.mul(b4, dyT); // [taps, c, mult, m]
      ops.dispose(b4);
      parts.push(ops.sum(prod, [3])); // [taps, c, mult]
      ops.dispose(prod);
    }
    const all = parts.length === 1 ? (parts[0] as TensorInfo) : ops.concat(parts, 0);
    return ops.release(ops.reshape(all, [kh, kw, c, mult]));
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
