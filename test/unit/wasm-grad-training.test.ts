/**
 * A few Adam steps of a small conv net on wasm through every backprop kernel: the loss falls and
 * no tensor or wasm buffer leaks.
 * The checks and their tolerances: test/helpers/wasm-grad-check.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Tensor4D, Variable } from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { rand, size, useWasmGradients } from '../helpers/wasm-grad-check.js';

useWasmGradients();

describe('training on wasm', () => {
  it('Adam on a small conv net (9x9 -> 3x3 s2 -> depthwise 3x3 -> resize x2 -> 3x3) lowers the loss, leaks nothing', async () => {
    await tf.setBackend('wasm');
    const backend = tf.engine().backend;
    const init = (shape: number[], seed: number, scale: number) =>
      tf.variable(tf.mul(tf.tensor(rand(size(shape), seed), shape), scale) as Tensor);
    const w: Variable[] = [
      init([9, 9, 3, 8], 11, 0.05),
      init([3, 3, 8, 8], 12, 0.15),
      init([3, 3, 8, 1], 13, 0.3),
      init([3, 3, 8, 3], 14, 0.15),
    ];
    const x = tf.tensor(rand(2 * 24 * 24 * 3, 21), [2, 24, 24, 3]) as Tensor4D;
    const target = tf.tensor(rand(2 * 24 * 24 * 3, 22), [2, 24, 24, 3]);
    const [w1, w2, w3, w4] = w as [Variable, Variable, Variable, Variable];
    const net = (): tf.Scalar =>
      tf.tidy(() => {
        let h = tf.relu(tf.conv2d(x, w1 as Tensor4D, 1, 'same'));
        h = tf.relu(tf.conv2d(h, w2 as Tensor4D, 2, 'same'));
        h = tf.relu(tf.depthwiseConv2d(h, w3 as Tensor4D, 1, 'same'));
        h = tf.image.resizeNearestNeighbor(h, [24, 24]);
        const y = tf.conv2d(h, w4 as Tensor4D, 1, 'same');
        return tf.mean(tf.squaredDifference(y, target));
      });
    const opt = tf.train.adam(0.03);
    const losses: number[] = [];
    let tensors = 0;
    let dataIds = 0;
    for (let step = 0; step < 8; step++) {
      const loss = opt.minimize(net, true, w) as tf.Scalar;
      losses.push(loss.dataSync()[0] as number);
      loss.dispose();
      if (step === 0) {
        // Adam's moment slots exist from the first step on
        tensors = tf.memory().numTensors;
        dataIds = backend.numDataIds();
      } else {
        expect(tf.memory().numTensors).toBe(tensors);
        expect(backend.numDataIds()).toBe(dataIds);
      }
    }
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses.at(-1) as number, losses.join(', ')).toBeLessThan((losses[0] as number) * 0.9);
    opt.dispose();
    tf.dispose([...w, x, target]);
  });
});
