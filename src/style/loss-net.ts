/**
 * Loss networks for the style cost: fixed CNNs whose activations define "content" and "style".
 * No ImageNet VGG can be downloaded here, so two candidates are compared (docs/style.md):
 *
 * - `mobilenet`: the first layers of the MobileNetV1 backbone inside @vladmandic/face-api's SSD
 *   detector (pretrained; conv 3x3/2 then depthwise-separable blocks, batch norm folded, relu6).
 * - `random`: a fixed random-weight multi-scale CNN (Ustyuzhaninov et al. 2017: random features
 *   reproduce textures well): four conv + relu layers at strides 2, 4, 8, 16 with He-normal weights
 *   from a fixed seed, so every run builds the same network.
 *
 * Both take RGB in 0..255, [B, H, W, 3], and return the activations of their named layers.
 */
import { join } from 'node:path';
import type * as tfTypes from '@tensorflow/tfjs-core';
import { readWeightMap } from '../inference/tfjs-weights.js';
import { packageRoot } from '../util/packages.js';

type Tf = typeof tfTypes;
type T4 = tfTypes.Tensor4D;

export type LossNetName = 'mobilenet' | 'random';
export const LOSS_NETS: readonly LossNetName[] = ['mobilenet', 'random'];

export interface LossNet {
  readonly name: LossNetName;
  /** Layers whose Gram matrices form the style cost, shallow to deep. */
  readonly styleLayers: readonly string[];
  /** The layer of the content cost. */
  readonly contentLayer: string;
  /** Activations of every named layer (style layers and the content layer). */
  features(x: T4): Record<string, T4>;
  dispose(): void;
}

interface ConvW {
  filter: tfTypes.Tensor4D;
  bias: tfTypes.Tensor1D;
}

/** The random multi-scale network: layer i (5x5 then 3x3 kernels) has stride 2^(i+1) and 32 * 2^i channels. */
export function randomLossNet(tf: Tf, seed = 20161128): LossNet {
  const chans = [3, 32, 64, 128, 256];
  const layers: ConvW[] = [];
  for (let i = 0; i < 4; i++) {
    const cin = chans[i] as number;
    const cout = chans[i + 1] as number;
    const k = i === 0 ? 5 : 3;
    const std = Math.sqrt(2 / (k * k * cin));
    layers.push({
      filter: tf.randomNormal([k, k, cin, cout], 0, std, 'float32', seed + i) as tfTypes.Tensor4D,
      bias: tf.zeros([cout]) as tfTypes.Tensor1D,
    });
  }
  const names = ['r1', 'r2', 'r3', 'r4'];
  return {
    name: 'random',
    styleLayers: names,
    contentLayer: 'r3',
    features(x) {
      const out: Record<string, T4> = {};
      let h = tf.div(tf.sub(x, 127.5), 127.5) as T4;
      layers.forEach((l, i) => {
        h = tf.relu(tf.add(tf.conv2d(h, l.filter, 2, 'same'), l.bias)) as T4;
        out[names[i] as string] = h;
      });
      return out;
    },
    dispose() {
      for (const l of layers) tf.dispose([l.filter, l.bias]);
    },
  };
}

/**
 * MobileNetV1 (face-api's SSD backbone) up to its 5th block. Batch norm is folded into the depthwise
 * filters at load time; pointwise layers carry their folded bias (`convolution_bn_offset`).
 * Layers: m0 (conv 3x3/2, 32), m1 (pw, 64, 1/2), m3 (pw, 128, 1/4), m5 (pw, 256, 1/8).
 */
export function mobilenetLossNet(tf: Tf): LossNet {
  const file = join(
    packageRoot('@vladmandic/face-api'),
    'model',
    'ssd_mobilenetv1_model-weights_manifest.json',
  );
  const map = readWeightMap(tf, file);
  const get = (n: string) => {
    const t = map[`MobilenetV1/${n}`];
    if (!t) throw new Error(`mobilenet loss net: weight MobilenetV1/${n} missing from ${file}`);
    return t;
  };
  const eps = 0.0010000000474974513;
  const conv0: ConvW = {
    filter: get('Conv2d_0_pointwise/weights') as tfTypes.Tensor4D,
    bias: get('Conv2d_0_pointwise/convolution_bn_offset') as tfTypes.Tensor1D,
  };
  const blocks: Array<{ dw: ConvW; pw: ConvW; stride: 1 | 2 }> = [];
  for (let i = 1; i <= 5; i++) {
    const p = `Conv2d_${i}_depthwise`;
    const dw = tf.tidy(() => {
      const scale = tf.div(
        get(`${p}/BatchNorm/gamma`),
        tf.sqrt(tf.add(get(`${p}/BatchNorm/moving_variance`), eps)),
      );
      const f = get(`${p}/depthwise_weights`);
      return {
        filter: tf.mul(f, tf.reshape(scale, [1, 1, -1, 1])) as tfTypes.Tensor4D,
        bias: tf.sub(
          get(`${p}/BatchNorm/beta`),
          tf.mul(get(`${p}/BatchNorm/moving_mean`), scale),
        ) as tfTypes.Tensor1D,
      };
    });
    blocks.push({
      dw,
      pw: {
        filter: get(`Conv2d_${i}_pointwise/weights`) as tfTypes.Tensor4D,
        bias: get(`Conv2d_${i}_pointwise/convolution_bn_offset`) as tfTypes.Tensor1D,
      },
      stride: i === 2 || i === 4 ? 2 : 1,
    });
  }
  const keep = new Set([
    conv0.filter,
    conv0.bias,
    ...blocks.flatMap((b) => [b.dw.filter, b.dw.bias, b.pw.filter, b.pw.bias]),
  ]);
  tf.dispose(Object.values(map).filter((t) => !keep.has(t as never)));
  const relu6 = (t: tfTypes.Tensor) => tf.clipByValue(t, 0, 6) as T4;
  return {
    name: 'mobilenet',
    styleLayers: ['m0', 'm1', 'm3', 'm5'],
    contentLayer: 'm3',
    features(x) {
      const out: Record<string, T4> = {};
      // SSD MobileNet input scaling: [-1, 1]
      let h = tf.sub(tf.mul(x, 0.007843137718737125), 1) as T4;
      h = relu6(tf.add(tf.conv2d(h, conv0.filter, 2, 'same'), conv0.bias));
      out.m0 = h;
      blocks.forEach((b, i) => {
        h = relu6(tf.add(tf.depthwiseConv2d(h, b.dw.filter, b.stride, 'same'), b.dw.bias));
        h = relu6(tf.add(tf.conv2d(h, b.pw.filter, 1, 'same'), b.pw.bias));
        out[`m${i + 1}`] = h;
      });
      return out;
    },
    dispose() {
      tf.dispose([...keep]);
    },
  };
}

export function createLossNet(tf: Tf, name: LossNetName): LossNet {
  if (name === 'mobilenet') return mobilenetLossNet(tf);
  if (name === 'random') return randomLossNet(tf);
  throw new Error(`unknown loss network "${name}" (choose ${LOSS_NETS.join(' or ')})`);
}
