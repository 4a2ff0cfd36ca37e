/**
 * The feed-forward style network (an image transformation network in the spirit of Johnson et al. 2016):
 *
 *   [stem cKsK-c0]  ->  d c1 (3x3/2)  ->  d c2 (3x3/2)  ->  R x blocks (c2)  ->  u c1  ->  u c0|3  ->  [cKs1-3]
 *
 * Down-sampling by stride-2 convolutions; residual blocks at 1/4 resolution; up-sampling by
 * resize-convolution (nearest x2, then a 3x3 convolution: no checkerboard, unlike transposed
 * convolutions); instance normalisation (with a learned scale and shift) and ReLU after every layer
 * but the last, whose sigmoid maps to 0..255. `separable` replaces 3x3 convolutions after the first
 * layer with depthwise 3x3 + pointwise 1x1 (about 8x fewer multiply-adds).
 *
 * Input and output are RGB in 0..255, [B, H, W, 3]; H and W must be multiples of 4 (the runner pads
 * frames, src/style/runner.ts). The same arithmetic is exported as a tfjs graph model (model.json +
 * weights) with nearest x2 written as DepthToSpace(concat(x, x, x, x)), so other engines can load it.
 */
import type * as tfTypes from '@tensorflow/tfjs-core';

type Tf = typeof tfTypes;
type T4 = tfTypes.Tensor4D;

export interface StyleNetArch {
  /** Full-resolution first and last convolution (Johnson's c9s1-32 / c9s1-3): kernel and channels, or null. */
  stem: { kernel: number; channels: number } | null;
  /** Channels of the two stride-2 stages. */
  channels: [number, number];
  /** Residual blocks at 1/4 resolution. */
  blocks: number;
  /** Depthwise-separable 3x3 convolutions (all but the first layer). */
  separable: boolean;
  /**
   * `full`: the last layer is a resize-convolution at full resolution. `half`: it runs at half
   * resolution and its RGB output is bilinearly up-sampled x2 (full-resolution convolutions with few
   * channels are the slowest layers on wasm).
   */
  output: 'full' | 'half';
}

/** Sizes compared by the benchmark; `johnson` is the reference architecture (c9s1-32, d64, d128, 5 x R128, u64, u32, c9s1-3). */
export const STYLE_ARCHS: Record<string, StyleNetArch> = {
  tiny: { stem: null, channels: [8, 16], blocks: 2, separable: true, output: 'half' },
  small: { stem: null, channels: [16, 32], blocks: 3, separable: true, output: 'half' },
  'small-full': { stem: null, channels: [16, 32], blocks: 3, separable: true, output: 'full' },
  medium: { stem: null, channels: [24, 48], blocks: 4, separable: true, output: 'full' },
  johnson: {
    stem: { kernel: 9, channels: 32 },
    channels: [64, 128],
    blocks: 5,
    separable: false,
    output: 'full',
  },
};
export const DEFAULT_STYLE_ARCH = 'small';

/** A layer of the network, in order; what forward() and the graph exporter both walk. */
type Layer =
  | {
      kind: 'conv';
      name: string;
      k: number;
      stride: 1 | 2;
      cin: number;
      cout: number;
      sep: boolean;
      up: boolean;
      norm: boolean;
    }
  | { kind: 'res'; name: string; c: number; sep: boolean };

export function layersOf(a: StyleNetArch): Layer[] {
  const [c1, c2] = a.channels;
  const sep = a.separable;
  const L: Layer[] = [];
  const c0 = a.stem?.channels;
  if (a.stem)
    L.push({
      kind: 'conv',
      name: 'stem',
      k: a.stem.kernel,
      stride: 1,
      cin: 3,
      cout: a.stem.channels,
      sep: false,
      up: false,
      norm: true,
    });
  L.push({
    kind: 'conv',
    name: 'down1',
    k: 3,
    stride: 2,
    cin: c0 ?? 3,
    cout: c1,
    sep: false,
    up: false,
    norm: true,
  });
  L.push({ kind: 'conv', name: 'down2', k: 3, stride: 2, cin: c1, cout: c2, sep, up: false, norm: true });
  for (let i = 0; i < a.blocks; i++) L.push({ kind: 'res', name: `res${i + 1}`, c: c2, sep });
  L.push({ kind: 'conv', name: 'up1', k: 3, stride: 1, cin: c2, cout: c1, sep, up: true, norm: true });
  if (a.stem) {
    L.push({
      kind: 'conv',
      name: 'up2',
      k: 3,
      stride: 1,
      cin: c1,
      cout: a.stem.channels,
      sep,
      up: true,
      norm: true,
    });
    L.push({
      kind: 'conv',
      name: 'out',
      k: a.stem.kernel,
      stride: 1,
      cin: a.stem.channels,
      cout: 3,
      sep: false,
      up: false,
      norm: false,
    });
  } else {
    L.push({
      kind: 'conv',
      name: 'out',
      k: 3,
      stride: 1,
      cin: c1,
      cout: 3,
      sep: false,
      up: a.output === 'full',
      norm: false,
    });
  }
  return L;
}

/** Parameter names and shapes, in a fixed order (the weights file order). */
export function paramShapes(a: StyleNetArch): Array<{ name: string; shape: number[] }> {
  const out: Array<{ name: string; shape: number[] }> = [];
  const conv = (name: string, k: number, cin: number, cout: number, sep: boolean, norm: boolean) => {
    if (sep) {
      out.push({ name: `${name}/dw`, shape: [k, k, cin, 1] });
      out.push({ name: `${name}/pw`, shape: [1, 1, cin, cout] });
    } else out.push({ name: `${name}/w`, shape: [k, k, cin, cout] });
    if (norm) {
      out.push({ name: `${name}/gamma`, shape: [cout] });
      out.push({ name: `${name}/beta`, shape: [cout] });
    } else out.push({ name: `${name}/b`, shape: [cout] });
  };
  for (const l of layersOf(a)) {
    if (l.kind === 'conv') conv(l.name, l.k, l.cin, l.cout, l.sep, l.norm);
    else {
      conv(`${l.name}/a`, 3, l.c, l.c, l.sep, true);
      conv(`${l.name}/b`, 3, l.c, l.c, l.sep, true);
    }
  }
  return out;
}

export function paramCount(a: StyleNetArch): number {
  return paramShapes(a).reduce((s, p) => s + p.shape.reduce((x, y) => x * y, 1), 0);
}

/** He-normal filters, unit IN scale, zero shifts; the last residual conv's scale starts small (identity blocks). */
export function initParams(tf: Tf, a: StyleNetArch, seed = 1): Record<string, tfTypes.Tensor> {
  const p: Record<string, tfTypes.Tensor> = {};
  paramShapes(a).forEach(({ name, shape }, i) => {
    const leaf = name.slice(name.lastIndexOf('/') + 1);
    if (leaf === 'gamma') p[name] = name.endsWith('/b/gamma') ? tf.fill(shape, 0.1) : tf.ones(shape);
    else if (leaf === 'beta' || leaf === 'b') p[name] = tf.zeros(shape);
    else {
      const [kh = 1, kw = 1, cin = 1] = shape;
      const fanIn = leaf === 'dw' ? kh * kw : kh * kw * cin;
      p[name] = tf.randomNormal(shape, 0, Math.sqrt(2 / fanIn), 'float32', seed * 1000 + i);
    }
  });
  return p;
}

function need(p: Record<string, tfTypes.Tensor>, name: string): tfTypes.Tensor {
  const t = p[name];
  if (!t) throw new Error(`style net: parameter "${name}" missing`);
  return t;
}

/** Instance normalisation over H, W per image and channel, with a learned scale and shift. */
export function instanceNorm(tf: Tf, x: T4, gamma: tfTypes.Tensor, beta: tfTypes.Tensor): T4 {
  const { mean, variance } = tf.moments(x, [1, 2], true);
  // y = x * s + t with per-image, per-channel s = gamma / sqrt(var + eps), t = beta - mean * s:
  // two full-size element-wise ops instead of four.
  const s = tf.mul(tf.rsqrt(tf.add(variance, 1e-5)), gamma);
  const t = tf.sub(beta, tf.mul(mean, s));
  return tf.add(tf.mul(x, s), t) as T4;
}

/** 0.5 when the network's own output is at half resolution (`output: half`), else 1. */
export function outputScale(a: StyleNetArch): number {
  return a.output === 'half' && !a.stem ? 0.5 : 1;
}

/**
 * The network on RGB 0..255 [B, H, W, 3] (H, W multiples of 4): RGB 0..255 out, at full resolution.
 * Call inside tf.tidy or a gradient function; the parameters may be tf.Variables.
 */
export function forward(tf: Tf, a: StyleNetArch, p: Record<string, tfTypes.Tensor>, input: T4): T4 {
  const out = forwardNet(tf, a, p, input);
  return outputScale(a) === 1 ? out : upsampleOutput(tf, out, input.shape[1], input.shape[2]);
}

/** The post-processing of `output: half` networks: bilinear (half-pixel centres) to the input size. */
export function upsampleOutput(tf: Tf, out: T4, h: number, w: number): T4 {
  return tf.image.resizeBilinear(out, [h, w], false, true) as T4;
}

/** The network alone, as exported by src/style/graph.ts (half resolution for `output: half`). */
export function forwardNet(tf: Tf, a: StyleNetArch, p: Record<string, tfTypes.Tensor>, input: T4): T4 {
  const [, H, W] = input.shape;
  if (H % 4 !== 0 || W % 4 !== 0)
    throw new Error(`style net: input ${H}x${W} must be a multiple of 4 (pad it)`);
  const conv = (
    x: T4,
    name: string,
    _k: number,
    stride: 1 | 2,
    sep: boolean,
    norm: boolean,
    relu: boolean,
    up: boolean,
  ) => {
    let h = x;
    if (up) h = tf.image.resizeNearestNeighbor(h, [h.shape[1] * 2, h.shape[2] * 2]) as T4;
    if (sep) {
      h = tf.depthwiseConv2d(h, need(p, `${name}/dw`) as tfTypes.Tensor4D, stride, 'same') as T4;
      h = tf.conv2d(h, need(p, `${name}/pw`) as tfTypes.Tensor4D, 1, 'same') as T4;
    } else h = tf.conv2d(h, need(p, `${name}/w`) as tfTypes.Tensor4D, stride, 'same') as T4;
    if (norm) h = instanceNorm(tf, h, need(p, `${name}/gamma`), need(p, `${name}/beta`));
    else h = tf.add(h, need(p, `${name}/b`)) as T4;
    return relu ? (tf.relu(h) as T4) : h;
  };
  let h = tf.div(input, 255) as T4;
  for (const l of layersOf(a)) {
    if (l.kind === 'conv') {
      h = conv(h, l.name, l.k, l.stride, l.sep, l.norm, l.norm, l.up);
    } else {
      const r = conv(h, `${l.name}/a`, 3, 1, l.sep, true, true, false);
      h = tf.add(h, conv(r, `${l.name}/b`, 3, 1, l.sep, true, false, false)) as T4;
    }
  }
  return tf.mul(tf.sigmoid(h), 255) as T4;
}
