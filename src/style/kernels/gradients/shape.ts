/** Gradients of the reductions and of the ops that reshape, slice, concatenate and pad. */
import type { GradConfig, Tensor } from '@tensorflow/tfjs-core';
import type { GradHelpers } from './helpers.js';

/** Sum, Mean, Reshape, Transpose. */
export function reductionAndReshapeGrads(h: GradHelpers): GradConfig[] {
  const { tf, a4 } = h;
  return [
    {
      kernelName: 'Sum',
      inputsToSave: ['x'],
      gradFunc: (dy, saved, attrs) => {
        const [x] = saved as [Tensor];
        const axes = tf.util.parseAxisParam(a4(attrs).axis as number | number[], x.shape);
        const expanded = x.shape.map((s, i) => (axes.includes(i) ? 1 : s));
        return { x: () => tf.mul(tf.reshape(dy as Tensor, expanded), tf.ones(x.shape, 'float32')) };
      },
    },
    {
      kernelName: 'Mean',
      inputsToSave: ['x'],
      gradFunc: (dy, saved, attrs) => {
        const [x] = saved as [Tensor];
        const axes = tf.util.parseAxisParam(a4(attrs).axis as number | number[], x.shape);
        const reduceSize = tf.util.sizeFromShape(tf.backend_util.computeOutAndReduceShapes(x.shape, axes)[1]);
        const expanded = x.shape.map((s, i) => (axes.includes(i) ? 1 : s));
        return {
          x: () =>
            tf.div(tf.mul(tf.reshape(dy as Tensor, expanded), tf.ones(x.shape, 'float32')), reduceSize),
        };
      },
    },
    {
      kernelName: 'Reshape',
      inputsToSave: ['x'],
      gradFunc: (dy, saved) => {
        const [x] = saved as [Tensor];
        return { x: () => tf.reshape(dy as Tensor, x.shape) };
      },
    },
    {
      kernelName: 'Transpose',
      gradFunc: (dy, _saved, attrs) => {
        const perm = a4(attrs).perm as number[];
        return { x: () => tf.transpose(dy as Tensor, tf.backend_util.getUndoAxesPermutation(perm)) };
      },
    },
  ];
}

/** Slice, Concat, PadV2, MirrorPad (a pad's gradient is the slice of dy the input was). */
export function sliceConcatPadGrads(h: GradHelpers): GradConfig[] {
  const { tf, a4 } = h;
  return [
    {
      kernelName: 'Slice',
      inputsToSave: ['x'],
      gradFunc: (dy, saved, attrs) => {
        const [x] = saved as [Tensor];
        const { begin, size } = a4(attrs) as { begin: number | number[]; size: number | number[] };
        const [b, s] = tf.slice_util.parseSliceParams(x, begin, size) as [number[], number[]];
        const paddings = x.shape.map((d, i) => [
          b[i] as number,
          d - (b[i] as number) - (s[i] as number),
        ]) as Array<[number, number]>;
        return { x: () => tf.pad(dy as Tensor, paddings) };
      },
    },
    {
      kernelName: 'Concat',
      saveAllInputs: true,
      gradFunc: (dy, saved, attrs) => {
        const shapes = (saved as Tensor[]).map((t) => t.shape);
        const axis = tf.util.parseAxisParam(
          a4(attrs).axis as number,
          (saved[0] as Tensor).shape,
        )[0] as number;
        const parts = tf.split(
          dy as Tensor,
          shapes.map((s) => s[axis] as number),
          axis,
        );
        return parts.map((t) => () => t) as unknown as Record<string, () => Tensor>;
      },
    },
    {
      kernelName: 'PadV2',
      inputsToSave: ['x'],
      gradFunc: (dy, saved, attrs) => {
        const [x] = saved as [Tensor];
        const paddings = a4(attrs).paddings as Array<[number, number]>;
        return {
          x: () =>
            tf.slice(
              dy as Tensor,
              paddings.map((p) => p[0]),
              x.shape,
            ),
        };
      },
    },
    {
      kernelName: 'MirrorPad',
      inputsToSave: ['x'],
      gradFunc: (dy, saved, attrs) => {
        const [x] = saved as [Tensor];
        const paddings = a4(attrs).paddings as Array<[number, number]>;
        return {
          x: () =>
            tf.slice(
              dy as Tensor,
              paddings.map((p) => p[0]),
              x.shape,
            ),
        };
      },
    },
  ];
}
