/**
 * Convolution gradients on wasm against cpu: conv2d (wasm's Conv2DBackpropInput, Vigil's
 * Conv2DBackpropFilter) and depthwiseConv2d (DepthwiseConv2dNativeBackpropInput/Filter).
 * The checks and their tolerances: test/helpers/wasm-grad-check.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor4D } from '@tensorflow/tfjs-core';
import { describe, it } from 'vitest';
import { check, edges, explicitPad, pads, TOL_BIG, useWasmGradients, X } from '../helpers/wasm-grad-check.js';

useWasmGradients();

describe('conv2d gradients (x: wasm Conv2DBackpropInput, filter: Conv2DBackpropFilter)', () => {
  for (const k of [1, 3, 9])
    for (const s of [1, 2])
      for (const [pn, pad] of pads)
        it(`k${k} s${s} ${pn}`, async () => {
          await check({
            name: `conv2d k${k} s${s} ${pn}`,
            shapes: [X, [k, k, 5, 4]],
            labels: ['x', 'filter'],
            f: (x, w) => tf.conv2d(x as Tensor4D, w as Tensor4D, s, pad),
          });
        });
  for (const [label, k, st, pad] of edges)
    it(label, async () => {
      await check({
        name: `conv2d ${label}`,
        shapes: [X, [k, k, 5, 4]],
        labels: ['x', 'filter'],
        f: (x, w) => tf.conv2d(x as Tensor4D, w as Tensor4D, st, pad),
      });
    });
  it('3-D input (no batch), k3 s2 same', async () => {
    await check({
      name: 'conv2d 3-D k3 s2',
      shapes: [
        [17, 19, 5],
        [3, 3, 5, 4],
      ],
      labels: ['x', 'filter'],
      f: (x, w) => tf.conv2d(x as tf.Tensor3D, w as Tensor4D, 2, 'same'),
    });
  });
  it('k9 s1 same on 2x64x64x8: filter-gradient taps span two 16 MiB blocks', async () => {
    await check({
      name: 'conv2d k9 s1 same, 2x64x64x8 (2 tap blocks)',
      tol: TOL_BIG,
      shapes: [
        [2, 64, 64, 8],
        [9, 9, 8, 4],
      ],
      labels: ['x', 'filter'],
      f: (x, w) => tf.conv2d(x as Tensor4D, w as Tensor4D, 1, 'same'),
    });
  });
  it('conv2dTranspose k3 s2 same (Conv2D + Conv2DBackpropFilter)', async () => {
    await check({
      name: 'conv2dTranspose k3 s2',
      shapes: [
        [2, 9, 10, 4],
        [3, 3, 5, 4],
      ],
      labels: ['x', 'filter'],
      f: (x, w) => tf.conv2dTranspose(x as Tensor4D, w as Tensor4D, [2, 17, 19, 5], 2, 'same'),
    });
  });
});

describe('depthwiseConv2d gradients (DepthwiseConv2dNativeBackpropInput/Filter)', () => {
  for (const mult of [1, 2])
    for (const s of [1, 2])
      for (const [pn, pad] of pads.slice(0, 2))
        it(`k3 s${s} ${pn} multiplier ${mult}`, async () => {
          await check({
            name: `depthwiseConv2d k3 s${s} ${pn} m${mult}`,
            shapes: [X, [3, 3, 5, mult]],
            labels: ['x', 'filter'],
            f: (x, w) => tf.depthwiseConv2d(x as Tensor4D, w as Tensor4D, s, pad as 'same'),
          });
        });
  it('k3 s1 same on 2x128x128x16: filter-gradient taps span two 16 MiB blocks', async () => {
    await check({
      name: 'depthwiseConv2d k3 s1 same, 2x128x128x16 (2 tap blocks)',
      tol: TOL_BIG,
      shapes: [
        [2, 128, 128, 16],
        [3, 3, 16, 1],
      ],
      labels: ['x', 'filter'],
      f: (x, w) => tf.depthwiseConv2d(x as Tensor4D, w as Tensor4D, 1, 'same'),
    });
  });
  for (const [label, k, st, pad] of edges)
    it(label, async () => {
      await check({
        name: `depthwiseConv2d ${label}`,
        shapes: [X, [k, k, 5, 1]],
        labels: ['x', 'filter'],
        f: (x, w) => tf.depthwiseConv2d(x as Tensor4D, w as Tensor4D, st, pad as 'same'),
      });
    });
  it('k5 s2 explicit padding', async () => {
    await check({
      name: 'depthwiseConv2d k5 s2 explicit',
      shapes: [X, [5, 5, 5, 1]],
      labels: ['x', 'filter'],
      f: (x, w) => tf.depthwiseConv2d(x as Tensor4D, w as Tensor4D, 2, explicitPad),
    });
  });
});
