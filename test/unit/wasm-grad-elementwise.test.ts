/**
 * Elementwise (activations, arithmetic with broadcasting), reduction and matMul gradients on wasm.
 * The checks and their tolerances: test/helpers/wasm-grad-check.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';
import { describe, it } from 'vitest';
import { check, useWasmGradients, X } from '../helpers/wasm-grad-check.js';

useWasmGradients();

describe('elementwise, reduction and matMul gradients', () => {
  const unary: Array<[string, (x: Tensor) => Tensor, number[]?]> = [
    ['relu', (x) => tf.relu(x)],
    ['sigmoid', (x) => tf.sigmoid(x)],
    ['tanh', (x) => tf.tanh(x)],
    ['elu', (x) => tf.elu(x)],
    ['leakyRelu', (x) => tf.leakyRelu(x, 0.2)],
    ['clipByValue', (x) => tf.clipByValue(x, -0.5, 0.5)],
    ['rsqrt', (x) => tf.rsqrt(x), [0]],
    ['mean over H,W (keepDims)', (x) => tf.mean(x, [1, 2], true)],
    ['mean (all)', (x) => tf.mean(x)],
    [
      'moments (instance norm)',
      (x) => {
        const { mean, variance } = tf.moments(x, [1, 2], true);
        return tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5)));
      },
    ],
  ];
  for (const [name, f, positive] of unary)
    it(name, async () => {
      await check({ name, shapes: [X], f, positive });
    });
  const binary: Array<[string, (a: Tensor, b: Tensor) => Tensor, number[]]> = [
    ['add', (a, b) => tf.add(a, b), X],
    ['sub', (a, b) => tf.sub(a, b), X],
    ['mul', (a, b) => tf.mul(a, b), X],
    ['squaredDifference', (a, b) => tf.squaredDifference(a, b), X],
    ['add broadcast [1,1,1,C]', (a, b) => tf.add(a, b), [1, 1, 1, 5]],
    ['sub broadcast [N,1,1,C]', (a, b) => tf.sub(a, b), [2, 1, 1, 5]],
    ['mul broadcast [C]', (a, b) => tf.mul(a, b), [5]],
  ];
  for (const [name, f, bShape] of binary)
    it(name, async () => {
      await check({ name, shapes: [X, bShape], f });
    });
  it('matMul', async () => {
    await check({
      name: 'matMul',
      shapes: [
        [23, 31],
        [31, 17],
      ],
      f: (a, b) => tf.matMul(a, b),
    });
  });
  it('matMul(a, b, true, false) (Gram matrix)', async () => {
    await check({
      name: 'matMul T,F (Gram)',
      shapes: [[323, 16]],
      f: (a) => tf.div(tf.matMul(a, a, true, false), 323),
    });
  });
  it('batched Gram matrices [N, HW, C]', async () => {
    await check({
      name: 'batched Gram',
      shapes: [[2, 323, 16]],
      f: (a) => tf.matMul(a, a, true, false),
    });
  });
  for (const [ta, tb] of [
    [false, true],
    [true, true],
  ] as const)
    it(`matMul(a, b, ${ta}, ${tb})`, async () => {
      await check({
        name: `matMul ${ta ? 'T' : 'F'},${tb ? 'T' : 'F'}`,
        shapes: [ta ? [31, 23] : [23, 31], tb ? [17, 31] : [31, 17]],
        f: (a, b) => tf.matMul(a, b, ta, tb),
      });
    });
});
