/**
 * `vigil style optimize`: the classic optimisation-based transfer (Gatys et al.): initialise G (the
 * content image or noise) and minimise J(G) = alpha J_content(C, G) + beta J_style(S, G) + gamma TV(G)
 * by Adam on G's pixels, clipped to 0..255 after every step.
 */
import type * as tfTypes from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import type { BackendPreference } from '../inference/tfjs-engine.js';
import { progress } from '../util/progress.js';
import { styleTf } from './backend.js';
import { readStyleImage } from './data.js';
import { contentCost, styleCost, tvCost } from './loss.js';
import { createLossNet, type LossNetName } from './loss-net.js';
import { readStyleScales, styleTargets } from './targets.js';

type T4 = tfTypes.Tensor4D;

export interface OptimizeOptions {
  content: string;
  style: string;
  out: string;
  lossNet: LossNetName;
  init: 'content' | 'noise';
  steps: number;
  /** Adam step size in pixel units (0..255). */
  lr: number;
  /** The content image's longer side (the result's size). */
  size: number;
  styleSize: number;
  alpha: number;
  beta: number;
  gamma: number;
  /** As in training: 'centred' compares covariances; styleScales reads the painting at several sizes. */
  gram?: 'plain' | 'centred';
  styleScales?: number[];
  seed: number;
  backend: BackendPreference;
  quiet?: boolean;
  onStep?: (step: number, l: { total: number; content: number; style: number; tv: number }) => void;
}

export const OPTIMIZE_DEFAULTS = {
  lossNet: 'mobilenet' as LossNetName,
  init: 'content' as const,
  steps: 200,
  lr: 4,
  size: 384,
  styleSize: 384,
  alpha: 1,
  beta: 4,
  gamma: 2,
  seed: 1,
};

export interface OptimizeResult {
  width: number;
  height: number;
  first: { total: number; content: number; style: number; tv: number };
  last: { total: number; content: number; style: number; tv: number };
  msPerStep: number;
  backend: string;
}

export async function optimizeStyle(o: OptimizeOptions): Promise<OptimizeResult> {
  const { tf, backend } = await styleTf(o.backend);
  const c = await readStyleImage(o.content, o.size, 'content image');
  const stats = { centred: o.gram === 'centred', scales: o.styleScales ?? [1] };
  const paintings = await readStyleScales(o.style, o.styleSize, stats);
  const net = createLossNet(tf, o.lossNet);
  const targets = styleTargets(tf, net, paintings, stats);
  const cImg = tf.tensor4d(Float32Array.from(c.pixels), [1, c.height, c.width, 3]);
  const cTarget = tf.tidy(() => net.features(cImg)[net.contentLayer] as T4);
  const cScale = tf.tidy(() => 1 / Math.max(tf.mean(tf.square(cTarget)).dataSync()[0] as number, 1e-12));
  const g = tf.variable(
    o.init === 'content' ? cImg : tf.randomUniform([1, c.height, c.width, 3], 0, 255, 'float32', o.seed),
    true,
    'style/optimize/G',
  );
  const optimizer = tf.train.adam(o.lr);
  const bar = o.quiet ? undefined : progress('style optimize', o.steps);
  let first: OptimizeResult['first'] | undefined;
  let last = { total: 0, content: 0, style: 0, tv: 0 };
  const t0 = performance.now();
  try {
    for (let step = 1; step <= o.steps; step++) {
      let parts: tfTypes.Scalar[] = [];
      const cost = optimizer.minimize(
        () => {
          const f = net.features(g as unknown as T4);
          const cc = tf.mul(contentCost(tf, cTarget, f[net.contentLayer] as T4), cScale) as tfTypes.Scalar;
          const sc = styleCost(
            tf,
            targets.grams,
            net.styleLayers.map((l) => f[l] as T4),
            targets.layerWeights,
            targets.centred,
          );
          const tv = tvCost(tf, g as unknown as T4);
          parts = [tf.keep(cc), tf.keep(sc), tf.keep(tv)];
          return tf.add(
            tf.add(tf.mul(cc, o.alpha), tf.mul(sc, o.beta)),
            tf.mul(tv, o.gamma),
          ) as tfTypes.Scalar;
        },
        true,
        [g],
      );
      tf.tidy(() => g.assign(tf.clipByValue(g, 0, 255)));
      const [cc, sc, tv] = parts.map((p) => p.dataSync()[0] as number) as [number, number, number];
      last = { total: (cost as tfTypes.Scalar).dataSync()[0] as number, content: cc, style: sc, tv };
      first ??= last;
      tf.dispose([cost as tfTypes.Tensor, ...parts]);
      o.onStep?.(step, last);
      bar?.tick(step, { loss: last.total, content: cc, style: sc });
    }
    bar?.done();
    const pixels = Buffer.from(Uint8Array.from(g.dataSync() as Float32Array, (v) => Math.round(v)));
    await sharp(pixels, { raw: { width: c.width, height: c.height, channels: 3 } }).toFile(o.out);
    return {
      width: c.width,
      height: c.height,
      first: first ?? last,
      last,
      msPerStep: (performance.now() - t0) / Math.max(1, o.steps),
      backend,
    };
  } finally {
    tf.dispose([g, cImg, cTarget]);
    optimizer.dispose();
    targets.dispose();
    net.dispose();
  }
}
