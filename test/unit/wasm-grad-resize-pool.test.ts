/**
 * Resize (against the adjoint of the cpu forward), mirror-pad and pool gradients on wasm.
 * The checks and their tolerances: test/helpers/wasm-grad-check.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Tensor4D } from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { check, rand, relErr, size, TOL, useWasmGradients, X } from '../helpers/wasm-grad-check.js';

useWasmGradients();

describe('resize, pad and pool gradients', () => {
  // tfjs-backend-cpu's ResizeBilinearGrad returns a [n, w, h, c] shape and its ResizeNearestNeighborGrad
  // mixes rows and columns when h != w, and both (like wasm's) ignore halfPixelCenters: the
  // reference is the adjoint of the cpu forward, whose equality with wasm's forward is checked first.
  const resizes: Array<[string, number, number, boolean, boolean]> = [
    ['x2', 34, 38, false, false],
    ['x2', 34, 38, false, true],
    ['x2', 34, 38, true, false],
    ['17x19 -> 25x28', 25, 28, false, false],
    ['17x19 -> 25x28', 25, 28, false, true],
    ['17x19 -> 25x28', 25, 28, true, false],
    ['17x19 -> 8x9', 8, 9, false, true],
  ];
  for (const [label, oh, ow, ac, hpc] of resizes)
    for (const [op, fn] of [
      ['resizeNearestNeighbor', tf.image.resizeNearestNeighbor],
      ['resizeBilinear', tf.image.resizeBilinear],
    ] as const)
      it(`${op} ${label} alignCorners=${ac} halfPixelCenters=${hpc}`, async () => {
        const f = (x: Tensor) => fn(x as Tensor4D, [oh, ow], ac, hpc);
        const x = rand(size(X), 5);
        const fwd = async (b: 'cpu' | 'wasm') => {
          await tf.setBackend(b);
          const t = tf.tensor(x, X);
          const y = f(t);
          const v = y.dataSync() as Float32Array;
          tf.dispose([t, y]);
          return v;
        };
        expect(relErr(await fwd('wasm'), await fwd('cpu'))).toBeLessThanOrEqual(TOL);
        await check({
          name: `${op} ${label} ac=${ac} hpc=${hpc}`,
          shapes: [X],
          f,
          reference: 'adjoint',
        });
      });
  it('mirrorPad reflect', async () => {
    const p: Array<[number, number]> = [
      [0, 0],
      [4, 4],
      [3, 2],
      [0, 0],
    ];
    await check({ name: 'mirrorPad reflect', shapes: [X], f: (x) => tf.mirrorPad(x, p, 'reflect') });
  });
  for (const [k, s, pad] of [
    [2, 2, 'valid'],
    [3, 2, 'same'],
  ] as const) {
    it(`avgPool ${k}x${k} s${s} ${pad}`, async () => {
      await check({
        name: `avgPool ${k}x${k} s${s} ${pad}`,
        shapes: [X],
        f: (x) => tf.avgPool(x as Tensor4D, k, s, pad),
      });
    });
    it(`maxPool ${k}x${k} s${s} ${pad}`, async () => {
      await check({
        name: `maxPool ${k}x${k} s${s} ${pad}`,
        shapes: [X],
        f: (x) => tf.maxPool(x as Tensor4D, k, s, pad),
      });
    });
    it(`maxPool ${k}x${k} s${s} ${pad}, ties (first maximum wins)`, async () => {
      await check({
        name: `maxPool ${k}x${k} s${s} ${pad} ties`,
        shapes: [X],
        f: (x) => tf.maxPool(x as Tensor4D, k, s, pad),
        quantized: [0],
      });
    });
  }
});
