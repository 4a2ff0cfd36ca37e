/**
 * An independent judge of stylised images: style and content distances measured with networks that
 * training never sees, so a style net cannot lower them by fitting its own loss network.
 *
 * The judge is an ensemble of fixed random-feature CNNs (He-normal weights from seeds unrelated to
 * the `random` loss network's), each a stack of stride-1 3x3 convolutions + ReLU + 2x2 average
 * pooling with a different first kernel (3, 5, 7: different receptive fields), applied to the
 * image at several scales (full and half resolution). Random features reproduce textures
 * (Ustyuzhaninov et al. 2017), so Gram matrices of random networks measure style; the training
 * loss network is a pretrained MobileNet with strided convolutions and relu6, a different family.
 *
 * Both distances are relative, so nets, scales and layers weigh the same:
 * - style: mean over (net, scale, layer) of ||G(x) - G(painting)||^2 / ||G(painting)||^2, with G the
 *   Gram matrix of the mean-centred activations (their covariance): un-centred Grams of ReLU features
 *   are dominated by the mean colour, and then a painting's own corners were judged further from it
 *   than other paintings (test/unit/style-judge.test.ts);
 * - content: mean over (net, scale) of ||F(x) - F(content)||^2 / ||F(content)||^2 at layers 2 and 3.
 */
import type * as tfTypes from '@tensorflow/tfjs-core';
import type { RgbImage } from '../util/rgb.js';
import { gram } from './loss.js';

type Tf = typeof tfTypes;
type T4 = tfTypes.Tensor4D;

export interface JudgeOptions {
  /** First-layer kernel of each member (one member per entry). */
  kernels?: number[];
  /** Image scales each member sees (1 = as given). */
  scales?: number[];
  seed?: number;
}

export const JUDGE_DEFAULTS: Required<JudgeOptions> = { kernels: [3, 5, 7], scales: [1, 0.5], seed: 90417 };

const CHANNELS = [3, 32, 64, 128, 128];
/** Layers (0-based) whose activations make the content distance: mid-level structure. */
const CONTENT_LAYERS = [1, 2];

interface Member {
  filters: tfTypes.Tensor4D[];
}

/** Gram matrices and content features of one image at every (member, scale). */
export interface JudgeFeatures {
  grams: tfTypes.Tensor3D[];
  content: T4[];
}

export class StyleJudge {
  private readonly members: Member[];
  readonly options: Required<JudgeOptions>;

  constructor(
    private readonly tf: Tf,
    opts: JudgeOptions = {},
  ) {
    this.options = { ...JUDGE_DEFAULTS, ...opts };
    const { kernels, seed } = this.options;
    this.members = kernels.map((k0, m) => ({
      filters: CHANNELS.slice(1).map((cout, i) => {
        const cin = CHANNELS[i] as number;
        const k = i === 0 ? k0 : 3;
        const std = Math.sqrt(2 / (k * k * cin));
        return tf.randomNormal([k, k, cin, cout], 0, std, 'float32', seed + 97 * m + i) as tfTypes.Tensor4D;
      }),
    }));
  }

  /** Features of an RGB image (kept: the caller disposes them with `release`). */
  features(img: RgbImage): JudgeFeatures {
    const tf = this.tf;
    return tf.tidy(() => {
      const x0 = tf.tensor4d(Float32Array.from(img.pixels), [1, img.height, img.width, 3]);
      const x = tf.div(tf.sub(x0, 127.5), 64) as T4;
      const grams: tfTypes.Tensor3D[] = [];
      const content: T4[] = [];
      for (const scale of this.options.scales) {
        const h = Math.max(16, Math.round(img.height * scale));
        const w = Math.max(16, Math.round(img.width * scale));
        const xs = scale === 1 ? x : (tf.image.resizeBilinear(x, [h, w], false, true) as T4);
        for (const m of this.members) {
          let a = xs;
          m.filters.forEach((f, i) => {
            if (i > 0) a = tf.avgPool(a, 2, 2, 'same') as T4;
            a = tf.relu(tf.conv2d(a, f, 1, 'same')) as T4;
            const mu = tf.mean(a, [1, 2], true);
            grams.push(tf.keep(gram(tf, tf.sub(a, mu) as T4)));
            if (CONTENT_LAYERS.includes(i)) content.push(tf.keep(a));
          });
        }
      }
      return { grams, content } as unknown as tfTypes.Tensor;
    }) as unknown as JudgeFeatures;
  }

  release(f: JudgeFeatures): void {
    this.tf.dispose([...f.grams, ...f.content]);
  }

  /** Relative Gram distance of `x` to the painting's features, averaged over nets, scales, layers. */
  styleDistance(x: JudgeFeatures, painting: JudgeFeatures): number {
    return this.relativeMean(x.grams, painting.grams);
  }

  /** Relative feature distance of `x` to the content image's features (same size required). */
  contentDistance(x: JudgeFeatures, content: JudgeFeatures): number {
    return this.relativeMean(x.content, content.content);
  }

  private relativeMean(a: tfTypes.Tensor[], ref: tfTypes.Tensor[]): number {
    const tf = this.tf;
    if (a.length !== ref.length) throw new Error(`judge: ${a.length} vs ${ref.length} feature maps`);
    let sum = 0;
    a.forEach((t, i) => {
      const r = ref[i] as tfTypes.Tensor;
      if (t.shape.join() !== r.shape.join())
        throw new Error(
          `judge: feature shapes differ (${t.shape} vs ${r.shape}); compare images of one size`,
        );
      sum += tf.tidy(() => {
        const d = tf.sum(tf.squaredDifference(t, r)).dataSync()[0] as number;
        const e = tf.sum(tf.square(r)).dataSync()[0] as number;
        return d / Math.max(e, 1e-12);
      });
    });
    return sum / a.length;
  }

  dispose(): void {
    for (const m of this.members) this.tf.dispose(m.filters);
  }
}

/** The region [x, y, w, h] of an RGB image, as a new image. */
export function cropRgb(img: RgbImage, x: number, y: number, w: number, h: number): RgbImage {
  const px = new Uint8Array(w * h * 3);
  for (let r = 0; r < h; r++) {
    const src = ((y + r) * img.width + x) * 3;
    px.set(img.pixels.subarray(src, src + w * 3), r * w * 3);
  }
  return { width: w, height: h, pixels: px };
}
