/**
 * Runs a trained style on video frames with tfjs: RGB24 in, RGB24 out, same size. Frames whose sides
 * are not multiples of 4 are padded (mirrored) and the result is cropped back. Runs the network with
 * tfjs ops (src/style/net.ts forward: nearest-neighbour resizes are much faster on wasm than the
 * DepthToSpace form the exported graph uses).
 *
 * Temporal smoothing (`smoothing` > 0) cuts flicker on still scenes: where the input barely changed
 * since the previous frame, the output is blended with the previous output,
 *   out_t = k * out_{t-1} + (1 - k) * net(x_t),  k = smoothing * max(0, 1 - change / changeLimit)
 * with `change` the mean absolute difference of consecutive inputs (0..255), so moving scenes are not smeared.
 */
import type * as tfTypes from '@tensorflow/tfjs-core';
import { forward, forwardNet, outputScale, paramShapes, type StyleNetArch, upsampleOutput } from './net.js';
import type { StoredStyle } from './store.js';
import { countFrameCopy } from '../util/frame-copies.js';

type Tf = typeof tfTypes;
type T4 = tfTypes.Tensor4D;

export interface RunOptions {
  /** 0 (off) .. 0.95: how much of the previous output a still scene keeps. */
  smoothing?: number;
  /** Mean absolute input change (0..255) at which smoothing stops. */
  changeLimit?: number;
}

export class StyleRunner {
  private readonly params: Record<string, tfTypes.Tensor>;
  readonly arch: StyleNetArch;
  private prev: { input: tfTypes.Tensor; output: tfTypes.Tensor; w: number; h: number } | undefined;

  constructor(
    private readonly tf: Tf,
    readonly style: StoredStyle,
  ) {
    this.arch = style.manifest.arch;
    this.params = Object.fromEntries(
      Object.entries(style.params).map(([k, v]) => {
        const shape = paramShape(style, k, v.length);
        return [k, tf.tensor(v, shape, 'float32')];
      }),
    );
  }

  get name(): string {
    return this.style.manifest.name;
  }

  /** The network alone on a [1, H, W, 3] tensor (H, W multiples of 4), as the exported graph computes it. */
  net(x: T4): T4 {
    return this.tf.tidy(() => forwardNet(this.tf, this.arch, this.params, x));
  }

  /** Stylises one RGB24 frame with the network in tfjs; returns RGB24 of the same size. */
  run(pixels: Uint8Array, width: number, height: number, opts: RunOptions = {}): Uint8Array {
    const { x, padded } = this.prepare(pixels, width, height);
    const y = this.tf.tidy(() => forward(this.tf, this.arch, this.params, padded));
    if (padded !== x) padded.dispose();
    return this.finish(y, x, width, height, opts);
  }

  /**
   * The same with the network run elsewhere (ONNX Runtime): `net` gets the padded frame (NHWC,
   * 0..255) and returns the network's own output (half resolution for `output: half` networks).
   */
  async runWith(
    net: (x: { data: Float32Array; shape: number[] }) => Promise<{ data: Float32Array; shape: number[] }>,
    pixels: Uint8Array,
    width: number,
    height: number,
    opts: RunOptions = {},
  ): Promise<Uint8Array> {
    const { x, padded } = this.prepare(pixels, width, height);
    const input = { data: padded.dataSync() as Float32Array, shape: padded.shape };
    if (padded !== x) padded.dispose();
    let out: { data: Float32Array; shape: number[] };
    try {
      out = await net(input);
    } catch (e) {
      x.dispose();
      throw e;
    }
    const tf = this.tf;
    const [, h4, w4] = input.shape as [number, number, number, number];
    const y = tf.tidy(() => {
      const t = tf.tensor4d(out.data, out.shape as [number, number, number, number]);
      return outputScale(this.arch) === 1 ? t : upsampleOutput(tf, t, h4, w4);
    });
    return this.finish(y, x, width, height, opts);
  }

  /** The frame as a tensor, and mirrored to multiples of 4 when it is not. */
  private prepare(pixels: Uint8Array, width: number, height: number): { x: T4; padded: T4 } {
    if (pixels.length !== width * height * 3)
      throw new Error(
        `style ${this.name}: frame ${width}x${height} needs ${width * height * 3} bytes, got ${pixels.length}`,
      );
    const tf = this.tf;
    const x = tf.tensor4d(Float32Array.from(pixels), [1, height, width, 3]);
    const ph = (4 - (height % 4)) % 4;
    const pw = (4 - (width % 4)) % 4;
    const padded =
      ph || pw
        ? (tf.mirrorPad(
            x,
            [
              [0, 0],
              [0, ph],
              [0, pw],
              [0, 0],
            ],
            'symmetric',
          ) as T4)
        : x;
    return { x, padded };
  }

  /** Crops the network's output to the frame, applies temporal smoothing, returns RGB24. Disposes y. */
  private finish(y0: T4, x: T4, width: number, height: number, opts: RunOptions): Uint8Array {
    const tf = this.tf;
    const k0 = Math.min(0.95, Math.max(0, opts.smoothing ?? 0));
    const limit = opts.changeLimit ?? 6;
    const out = tf.tidy(() => {
      let y =
        y0.shape[1] !== height || y0.shape[2] !== width
          ? (tf.slice(y0, [0, 0, 0, 0], [1, height, width, 3]) as T4)
          : y0;
      const p = this.prev;
      if (k0 > 0 && p && p.w === width && p.h === height) {
        const change = tf.mean(tf.abs(tf.sub(x, p.input))).dataSync()[0] as number;
        const k = k0 * Math.max(0, 1 - change / limit);
        if (k > 0) y = tf.add(tf.mul(p.output, k), tf.mul(y, 1 - k)) as T4;
      }
      return y;
    });
    // y0 was made outside the tidy: returned as it is, it is the output; else it is spent
    if (out !== y0) y0.dispose();
    const data = out.dataSync() as Float32Array;
    const rgb = new Uint8Array(data.length);
    for (let i = 0; i < data.length; i++) {
      const v = data[i] as number;
      rgb[i] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
    }
    if (this.prev) tf.dispose([this.prev.input, this.prev.output]);
    if (k0 > 0) this.prev = { input: x, output: out, w: width, h: height };
    else {
      this.prev = undefined;
      tf.dispose([x, out]);
    }
    return rgb;
  }

  /** Forgets the previous frame (a new scene, another stream). */
  reset(): void {
    if (this.prev) this.tf.dispose([this.prev.input, this.prev.output]);
    this.prev = undefined;
  }

  dispose(): void {
    this.reset();
    this.tf.dispose(Object.values(this.params));
  }
}

function paramShape(style: StoredStyle, name: string, n: number): number[] {
  // shapes follow the architecture; recomputed here to avoid storing them twice
  const shapes = shapeTable(style.manifest.arch);
  const s = shapes.get(name);
  if (!s || s.reduce((a, b) => a * b, 1) !== n)
    throw new Error(`style ${style.manifest.name}: parameter ${name} has ${n} values`);
  return s;
}

const shapeCache = new WeakMap<StyleNetArch, Map<string, number[]>>();
function shapeTable(a: StyleNetArch): Map<string, number[]> {
  let m = shapeCache.get(a);
  if (!m) {
    m = new Map(paramShapes(a).map((p) => [p.name, p.shape]));
    shapeCache.set(a, m);
  }
  return m;
}

/** Blends a stylised frame with the original: strength 1 = stylised, 0 = original. */
export function blend(original: Uint8Array, styled: Uint8Array, strength: number): Uint8Array {
  if (strength >= 1) return styled;
  countFrameCopy('style_blend');
  const out = new Uint8Array(original.length);
  const s = Math.max(0, strength);
  for (let i = 0; i < out.length; i++)
    out[i] = ((original[i] as number) * (1 - s) + (styled[i] as number) * s + 0.5) | 0;
  return out;
}
