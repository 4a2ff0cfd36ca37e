/**
 * Gradients of matMul, the convolutions (their backprop kernels: src/style/kernels/wasm-grad.ts on
 * wasm), the resizes and the pools (whose backprop kernels exist on wasm and cpu).
 */
import type { GradConfig, Tensor, Tensor4D } from '@tensorflow/tfjs-core';
import type { GradHelpers } from './helpers.js';

/** BatchMatMul, with explicit transposes (see registerStyleGradients's doc comment). */
export function matMulGrads(h: GradHelpers): GradConfig[] {
  const { mm, T, a4 } = h;
  return [
    {
      kernelName: 'BatchMatMul',
      inputsToSave: ['a', 'b'],
      gradFunc: (dy, saved, attrs) => {
        const [a, b] = saved as [Tensor, Tensor];
        const d = dy as Tensor;
        const { transposeA, transposeB } = a4(attrs) as { transposeA: boolean; transposeB: boolean };
        if (!transposeA && !transposeB) return { a: () => mm(d, T(b)), b: () => mm(T(a), d) };
        if (!transposeA && transposeB) return { a: () => mm(d, b), b: () => mm(T(d), a) };
        if (transposeA && !transposeB) return { a: () => mm(b, T(d)), b: () => mm(a, d) };
        return { a: () => mm(T(b), T(d)), b: () => mm(T(d), T(a)) };
      },
    },
  ];
}

/** Conv2D, and Conv2DBackpropInput (the kernel conv2dTranspose runs forward). */
export function conv2dGrads(h: GradHelpers): GradConfig[] {
  const { tf, run, a4 } = h;
  return [
    {
      kernelName: 'Conv2D',
      inputsToSave: ['x', 'filter'],
      gradFunc: (dy, saved, attrs) => {
        const [x, filter] = saved as [Tensor4D, Tensor4D];
        const { dilations, strides, pad, dataFormat, dimRoundingMode } = a4(attrs) as Record<string, never>;
        if (!tf.backend_util.tupleValuesAreOne(dilations ?? 1))
          throw new Error(`gradient of conv2d: dilations > 1 are not supported (got ${dilations})`);
        return {
          x: () =>
            run(
              'Conv2DBackpropInput',
              { dy: dy as Tensor, filter },
              {
                strides,
                pad,
                dataFormat,
                dimRoundingMode,
                inputShape: x.shape,
              },
            ),
          filter: () =>
            run(
              'Conv2DBackpropFilter',
              { x, dy: dy as Tensor },
              {
                strides,
                pad,
                dataFormat,
                dimRoundingMode,
                filterShape: filter.shape,
              },
            ),
        };
      },
    },
    {
      kernelName: 'Conv2DBackpropInput',
      inputsToSave: ['dy', 'filter'],
      gradFunc: (ddx, saved, attrs) => {
        const [dy, filter] = saved as [Tensor4D, Tensor4D];
        const { strides, pad, dataFormat, dimRoundingMode } = a4(attrs) as Record<string, never>;
        return {
          dy: () =>
            run(
              'Conv2D',
              { x: ddx as Tensor, filter },
              { strides, pad, dataFormat, dilations: 1, dimRoundingMode },
            ),
          filter: () =>
            run(
              'Conv2DBackpropFilter',
              { x: ddx as Tensor, dy },
              {
                strides,
                pad,
                dataFormat,
                dimRoundingMode,
                filterShape: filter.shape,
              },
            ),
        };
      },
    },
  ];
}

/** DepthwiseConv2dNative. */
export function depthwiseConvGrads(h: GradHelpers): GradConfig[] {
  const { tf, run, a4 } = h;
  return [
    {
      kernelName: 'DepthwiseConv2dNative',
      inputsToSave: ['x', 'filter'],
      gradFunc: (dy, saved, attrs) => {
        const [x, filter] = saved as [Tensor4D, Tensor4D];
        const { dilations, strides, pad, dimRoundingMode } = a4(attrs) as Record<string, never>;
        const $dilations = dilations ?? [1, 1];
        if (!tf.backend_util.tupleValuesAreOne($dilations))
          throw new Error(`gradient of depthwiseConv2d: dilations > 1 are not supported (got ${dilations})`);
        return {
          x: () =>
            run(
              'DepthwiseConv2dNativeBackpropInput',
              { dy: dy as Tensor, filter },
              {
                strides,
                pad,
                dilations: $dilations,
                dimRoundingMode,
                inputShape: x.shape,
              },
            ),
          filter: () =>
            run(
              'DepthwiseConv2dNativeBackpropFilter',
              { x, dy: dy as Tensor },
              {
                strides,
                pad,
                dilations: $dilations,
                dimRoundingMode,
                filterShape: filter.shape,
              },
            ),
        };
      },
    },
  ];
}

/** ResizeNearestNeighbor, ResizeBilinear, AvgPool, MaxPool. */
export function resizePoolGrads(h: GradHelpers): GradConfig[] {
  const { run, a4 } = h;
  return [
    {
      kernelName: 'ResizeNearestNeighbor',
      inputsToSave: ['images'],
      gradFunc: (dy, saved, attrs) => {
        const [images] = saved as [Tensor];
        return { images: () => run('ResizeNearestNeighborGrad', { dy: dy as Tensor, images }, attrs) };
      },
    },
    {
      kernelName: 'ResizeBilinear',
      inputsToSave: ['images'],
      gradFunc: (dy, saved, attrs) => {
        const [images] = saved as [Tensor];
        return { images: () => run('ResizeBilinearGrad', { dy: dy as Tensor, images }, attrs) };
      },
    },
    {
      kernelName: 'AvgPool',
      inputsToSave: ['x'],
      gradFunc: (dy, saved, attrs) => {
        const [x] = saved as [Tensor];
        const { filterSize, strides, pad } = a4(attrs);
        return { x: () => run('AvgPoolGrad', { dy: dy as Tensor, input: x }, { filterSize, strides, pad }) };
      },
    },
    {
      kernelName: 'MaxPool',
      inputsToSave: ['x'],
      outputsToSave: [true],
      gradFunc: (dy, saved, attrs) => {
        const [x, y] = saved as [Tensor, Tensor];
        const { filterSize, strides, pad, dimRoundingMode } = a4(attrs);
        return {
          x: () =>
            run(
              'MaxPoolGrad',
              { dy: dy as Tensor, input: x, output: y },
              {
                filterSize,
                strides,
                pad,
                dimRoundingMode,
              },
            ),
        };
      },
    },
  ];
}
