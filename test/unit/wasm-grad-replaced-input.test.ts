/**
 * The opt-in replacement of wasm's Conv2DBackpropInput by Vigil's kernel (registerWasmGradKernels
 * with replace): registered once, and conv2d gradients through it match cpu. In a file of its own
 * because it replaces the kernel for the rest of the process.
 * The checks and their tolerances: test/helpers/wasm-grad-check.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor4D } from '@tensorflow/tfjs-core';
import { isWasmGradKernel, registerWasmGradKernels } from '../../src/style/kernels/wasm-grad.js';
import { describe, expect, it } from 'vitest';
import { check, edges, pads, useWasmGradients, X } from '../helpers/wasm-grad-check.js';

useWasmGradients();

describe("opt-in replacement of wasm's Conv2DBackpropInput (runs last: replaces it for the process)", () => {
  it('registers over the slow kernel once', () => {
    expect(registerWasmGradKernels(tf, { replace: ['Conv2DBackpropInput'] })).toEqual([
      'Conv2DBackpropInput',
    ]);
    expect(isWasmGradKernel(tf, 'Conv2DBackpropInput')).toBe(true);
    expect(registerWasmGradKernels(tf, { replace: ['Conv2DBackpropInput'] })).toEqual([]);
  });
  for (const k of [1, 3, 9])
    for (const s of [1, 2])
      for (const [pn, pad] of pads)
        it(`conv2d k${k} s${s} ${pn}`, async () => {
          await check({
            name: `conv2d k${k} s${s} ${pn} (replaced input kernel)`,
            shapes: [X, [k, k, 5, 4]],
            labels: ['x', 'filter'],
            f: (x, w) => tf.conv2d(x as Tensor4D, w as Tensor4D, s, pad),
          });
        });
  for (const [label, k, st, pad] of edges)
    it(`conv2d ${label}`, async () => {
      await check({
        name: `conv2d ${label} (replaced input kernel)`,
        shapes: [X, [k, k, 5, 4]],
        labels: ['x', 'filter'],
        f: (x, w) => tf.conv2d(x as Tensor4D, w as Tensor4D, st, pad),
      });
    });
  it('conv2dTranspose k3 s2 same', async () => {
    await check({
      name: 'conv2dTranspose k3 s2 (replaced input kernel)',
      shapes: [
        [2, 9, 10, 4],
        [3, 3, 5, 4],
      ],
      labels: ['x', 'filter'],
      f: (x, w) => tf.conv2dTranspose(x as Tensor4D, w as Tensor4D, [2, 17, 19, 5], 2, 'same'),
    });
  });
});
