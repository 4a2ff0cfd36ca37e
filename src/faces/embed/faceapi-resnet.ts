/**
 * @vladmandic/face-api's face recognition network (dlib's ResNet-34 "dlib_face_recognition_resnet_model_v1",
 * 150x150 RGB -> 128-d descriptor) re-implemented in plain tfjs ops, with our own weight loading.
 *
 * Mirrors node_modules/@vladmandic/face-api/src/faceRecognitionNet/ (FaceRecognitionNet.ts,
 * residualLayer.ts, convLayer.ts, scaleLayer.ts) op for op:
 *
 *   x = (rgb - [122.782, 117.001, 104.298]) / 255          (FaceRecognitionNet.forwardInput: normalize().div(255))
 *   conv layer  = relu?( (conv2d(x, W) + b) * scale.weights + scale.biases )
 *   conv32_down = conv 7x7 stride 2 'valid' + relu, then maxPool 3x3 stride 2 'valid'
 *   residual     = relu( convNoRelu(conv(x)) + x )                        (3x3 'same')
 *   residualDown = relu( convNoRelu(convDown(x)) + pad(avgPool2x2s2(x)) ) (first conv 3x3 stride 2 'valid';
 *                  the pooled shortcut is zero-padded on channels, and the conv branch zero-padded by one
 *                  row/column at the bottom/right when its spatial size is smaller)
 *   3x conv32, 4x conv64 (first down), 3x conv128 (first down), 4x conv256 (first and last down)
 *   descriptor = mean over H,W (2x2x256) . fc [256, 128]      (no L2 normalisation)
 *
 * The only numeric difference: the per-channel scale layer and conv bias are folded into the conv
 * filters/bias at load time ((x*W + b)*s + t == x*(W*s) + (b*s + t)) and the bias and relu are fused
 * into the convolution (tf.fused.conv2d); this changes results only by float32 rounding.
 *
 * face-api's input path (NetInput.toBatchTensor(150, true)) zero-pads a non-square image to a square
 * (centred) and resizes it with resizeBilinear(alignCorners=false, halfPixelCenters=false) to 150x150;
 * that is reproduced here for inputs that are not 150x150, so a 150x150 input goes in unchanged.
 */
import { join } from 'node:path';
import type * as tfTypes from '@tensorflow/tfjs-core';
import type { LoadedModel, ModelManifest, TensorData } from '../../inference/contract.js';
import { readWeightMap } from '../../inference/tfjs-weights.js';
import { packageRoot } from '../../util/packages.js';

type Tf = typeof tfTypes;
type T4 = tfTypes.Tensor4D;

/** The manifest for this network: as ModelManifest, but with its own `format`. */
export type FaceApiResnetManifest = Omit<ModelManifest, 'format'> & { format: string };

export const FACEAPI_RESNET_INPUT = 150;
export const FACEAPI_RESNET_MEAN_RGB: readonly [number, number, number] = [122.782, 117.001, 104.298];
export const FACEAPI_RESNET_DIVISOR = 255;
export const FACEAPI_RESNET_DIM = 128;

interface ConvLayer {
  /** HWIO filters with the scale layer folded in. */
  filter: tfTypes.Tensor4D;
  /** conv bias * scale.weights + scale.biases */
  bias: tfTypes.Tensor1D;
}
interface Residual {
  conv1: ConvLayer;
  conv2: ConvLayer;
}

/** Residual blocks in execution order; `down` ones use residualDown. */
const BLOCKS: ReadonlyArray<{ name: string; down: boolean }> = [
  { name: 'conv32_1', down: false },
  { name: 'conv32_2', down: false },
  { name: 'conv32_3', down: false },
  { name: 'conv64_down', down: true },
  { name: 'conv64_1', down: false },
  { name: 'conv64_2', down: false },
  { name: 'conv64_3', down: false },
  { name: 'conv128_down', down: true },
  { name: 'conv128_1', down: false },
  { name: 'conv128_2', down: false },
  { name: 'conv256_down', down: true },
  { name: 'conv256_1', down: false },
  { name: 'conv256_2', down: false },
  { name: 'conv256_down_out', down: true },
];

function take(map: tfTypes.NamedTensorMap, name: string, rank: number): tfTypes.Tensor {
  const t = map[name];
  if (!t) throw new Error(`faceapi-resnet: weight "${name}" missing from the weights manifest`);
  if (t.rank !== rank)
    throw new Error(`faceapi-resnet: weight "${name}" has rank ${t.rank}, expected ${rank}`);
  return t;
}

/** Folds conv bias and the scale layer of `prefix` into one filter + bias. */
function convLayer(tf: Tf, map: tfTypes.NamedTensorMap, prefix: string): ConvLayer {
  const filters = take(map, `${prefix}/conv/filters`, 4) as tfTypes.Tensor4D;
  const bias = take(map, `${prefix}/conv/bias`, 1) as tfTypes.Tensor1D;
  const sw = take(map, `${prefix}/scale/weights`, 1) as tfTypes.Tensor1D;
  const sb = take(map, `${prefix}/scale/biases`, 1) as tfTypes.Tensor1D;
  const outC = filters.shape[3];
  if (bias.shape[0] !== outC || sw.shape[0] !== outC || sb.shape[0] !== outC)
    throw new Error(`faceapi-resnet: "${prefix}" bias/scale sizes do not match ${outC} filters`);
  return tf.tidy(() => ({
    filter: tf.mul(filters, sw) as tfTypes.Tensor4D,
    bias: tf.add(tf.mul(bias, sw), sb) as tfTypes.Tensor1D,
  }));
}

interface ResnetWeights {
  stem: ConvLayer;
  blocks: Residual[];
  fc: tfTypes.Tensor2D;
}

/** The network's weights from its manifest, with the scale layers folded into the convolutions. */
function readResnetWeights(tf: Tf, manifestFile: string): ResnetWeights {
  const map = readWeightMap(tf, manifestFile);
  try {
    const stem = convLayer(tf, map, 'conv32_down');
    const blocks = BLOCKS.map(({ name }) => ({
      conv1: convLayer(tf, map, `${name}/conv1`),
      conv2: convLayer(tf, map, `${name}/conv2`),
    }));
    const fcRaw = take(map, 'fc', 2);
    if (fcRaw.shape[1] !== FACEAPI_RESNET_DIM)
      throw new Error(`faceapi-resnet: fc has shape [${fcRaw.shape}], expected [256, ${FACEAPI_RESNET_DIM}]`);
    return { stem, blocks, fc: tf.clone(fcRaw) as tfTypes.Tensor2D };
  } finally {
    // the folded copies are what we keep; the decoded originals are no longer needed
    tf.dispose(Object.values(map));
  }
}

function conv(tf: Tf, x: T4, l: ConvLayer, strides: 1 | 2, pad: 'same' | 'valid', relu: boolean): T4 {
  return tf.fused.conv2d({
    x,
    filter: l.filter,
    strides,
    pad,
    bias: l.bias,
    activation: relu ? 'relu' : 'linear',
  });
}

// residualLayer.ts: residual()
function residual(tf: Tf, x: T4, p: Residual): T4 {
  const out = conv(tf, conv(tf, x, p.conv1, 1, 'same', true), p.conv2, 1, 'same', false);
  return tf.relu(tf.add(out, x)) as T4;
}

// residualLayer.ts: residualDown()
function residualDown(tf: Tf, x: T4, p: Residual): T4 {
  let out = conv(tf, conv(tf, x, p.conv1, 2, 'valid', true), p.conv2, 1, 'same', false);
  let pooled = tf.avgPool(x, 2, 2, 'valid');
  const [, ph, pw, pc] = pooled.shape;
  const [, oh, ow, oc] = out.shape;
  // face-api appends one zero row (bottom) and one zero column (right) to the conv branch
  if (oh !== ph || ow !== pw)
    out = tf.pad(out, [
      [0, 0],
      [0, ph - oh],
      [0, pw - ow],
      [0, 0],
    ]);
  // ... and zero channels to the shortcut (concat([pooled, zeros(pooled.shape)], 3))
  if (pc !== oc)
    pooled = tf.pad(pooled, [
      [0, 0],
      [0, 0],
      [0, 0],
      [0, oc - pc],
    ]);
  return tf.relu(tf.add(pooled, out)) as T4;
}

// NetInput.toBatchTensor(150, isCenterInputs=true) for tensor inputs: padToSquare + resizeBilinear
function toInputSize(tf: Tf, x: T4): T4 {
  const [, h, w] = x.shape;
  const S = FACEAPI_RESNET_INPUT;
  if (h === S && w === S) return x;
  if (h !== w) {
    const diff = Math.abs(h - w);
    const after = Math.round(diff * 0.5);
    const before = diff - after;
    x =
      h > w
        ? tf.pad(x, [
            [0, 0],
            [0, 0],
            [before, after],
            [0, 0],
          ])
        : tf.pad(x, [
            [0, 0],
            [before, after],
            [0, 0],
            [0, 0],
          ]);
  }
  return tf.image.resizeBilinear(x, [S, S], false, false);
}

/** RGB 0..255 [N, H, W, 3] -> descriptors [N, 128]. */
function forward(tf: Tf, w: ResnetWeights, rgb: T4): tfTypes.Tensor2D {
  const [mr, mg, mb] = FACEAPI_RESNET_MEAN_RGB;
  const x = tf.div(tf.sub(toInputSize(tf, rgb), tf.tensor1d([mr, mg, mb])), FACEAPI_RESNET_DIVISOR) as T4;
  let out = conv(tf, x, w.stem, 2, 'valid', true);
  out = tf.maxPool(out, 3, 2, 'valid');
  BLOCKS.forEach(({ down }, i) => {
    const p = w.blocks[i] as Residual;
    out = down ? residualDown(tf, out, p) : residual(tf, out, p);
  });
  return tf.matMul(tf.mean(out, [1, 2]) as tfTypes.Tensor2D, w.fc);
}

export async function loadFaceApiResnet(
  tf: Tf,
  manifest: ModelManifest | FaceApiResnetManifest,
): Promise<LoadedModel> {
  const net = readResnetWeights(tf, join(packageRoot(manifest.package), manifest.path));
  const weights: tfTypes.Tensor[] = [
    net.stem.filter,
    net.stem.bias,
    ...net.blocks.flatMap((b) => [b.conv1.filter, b.conv1.bias, b.conv2.filter, b.conv2.bias]),
    net.fc,
  ];
  let disposed = false;
  return {
    name: manifest.name,
    async run(input: TensorData): Promise<TensorData[]> {
      if (disposed) throw new Error(`${manifest.name}: run() after dispose()`);
      const [n, h, w, c] = input.shape;
      if (input.shape.length !== 4 || c !== 3 || !n || !h || !w)
        throw new Error(`${manifest.name}: input shape [${input.shape}], expected [N, 150, 150, 3]`);
      if (input.data.length !== n * h * w * c)
        throw new Error(`${manifest.name}: input has ${input.data.length} values, shape [${input.shape}]`);
      const out = tf.tidy(() => forward(tf, net, tf.tensor4d(input.data, [n, h, w, c], 'float32')));
      try {
        const data = (await out.data()) as Float32Array;
        return [{ data, shape: [n, FACEAPI_RESNET_DIM] }];
      } finally {
        out.dispose();
      }
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      tf.dispose(weights);
    },
  };
}
