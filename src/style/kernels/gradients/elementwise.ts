/** Gradients of the elementwise ops: arithmetic with broadcasting, unary math, activations. */
import type { GradConfig, Tensor } from '@tensorflow/tfjs-core';
import type { GradHelpers } from './helpers.js';

/** Add, Sub, Multiply, RealDiv, SquaredDifference, Maximum, Neg. */
export function arithmeticGrads(h: GradHelpers): GradConfig[] {
  const { tf, f32, unbroadcast, outShapeOf } = h;
  return [
    {
      kernelName: 'Add',
      inputsToSave: ['a', 'b'],
      gradFunc: (dy, saved) => {
        const [a, b] = saved as [Tensor, Tensor];
        const o = outShapeOf(a, b);
        return {
          a: () => unbroadcast(dy as Tensor, a.shape, o),
          b: () => unbroadcast(dy as Tensor, b.shape, o),
        };
      },
    },
    {
      kernelName: 'Sub',
      inputsToSave: ['a', 'b'],
      gradFunc: (dy, saved) => {
        const [a, b] = saved as [Tensor, Tensor];
        const o = outShapeOf(a, b);
        return {
          a: () => unbroadcast(dy as Tensor, a.shape, o),
          b: () => tf.neg(unbroadcast(dy as Tensor, b.shape, o)),
        };
      },
    },
    {
      kernelName: 'Multiply',
      inputsToSave: ['a', 'b'],
      gradFunc: (dy, saved) => {
        const [a, b] = saved as [Tensor, Tensor];
        const o = outShapeOf(a, b);
        return {
          a: () => unbroadcast(tf.mul(dy as Tensor, f32(b)), a.shape, o),
          b: () => unbroadcast(tf.mul(dy as Tensor, f32(a)), b.shape, o),
        };
      },
    },
    {
      kernelName: 'RealDiv',
      inputsToSave: ['a', 'b'],
      gradFunc: (dy, saved) => {
        const [a, b] = saved as [Tensor, Tensor];
        const o = outShapeOf(a, b);
        return {
          a: () => unbroadcast(tf.div(dy as Tensor, f32(b)), a.shape, o),
          b: () => tf.neg(tf.div(unbroadcast(tf.mul(dy as Tensor, f32(a)), b.shape, o), f32(tf.square(b)))),
        };
      },
    },
    {
      kernelName: 'SquaredDifference',
      inputsToSave: ['a', 'b'],
      gradFunc: (dy, saved) => {
        const [a, b] = saved as [Tensor, Tensor];
        const two = tf.scalar(2);
        return {
          a: () => tf.mul(dy as Tensor, tf.mul(two, tf.sub(a, b))),
          b: () => tf.mul(dy as Tensor, tf.mul(two, tf.sub(b, a))),
        };
      },
    },
    {
      kernelName: 'Maximum',
      inputsToSave: ['a', 'b'],
      gradFunc: (dy, saved) => {
        const [a, b] = saved as [Tensor, Tensor];
        return {
          a: () => tf.mul(dy as Tensor, f32(tf.greaterEqual(a, b))),
          b: () => tf.mul(dy as Tensor, f32(tf.less(a, b))),
        };
      },
    },
    { kernelName: 'Neg', gradFunc: (dy) => ({ x: () => tf.neg(dy as Tensor) }) },
  ];
}

/** Square, Sqrt, Rsqrt, Exp, Abs, Cast, Identity. */
export function unaryMathGrads(h: GradHelpers): GradConfig[] {
  const { tf, f32 } = h;
  return [
    {
      kernelName: 'Square',
      inputsToSave: ['x'],
      gradFunc: (dy, saved) => {
        const [x] = saved as [Tensor];
        return { x: () => tf.mul(dy as Tensor, tf.mul(f32(x), 2)) };
      },
    },
    {
      kernelName: 'Sqrt',
      inputsToSave: ['x'],
      gradFunc: (dy, saved) => {
        const [x] = saved as [Tensor];
        return { x: () => tf.div(dy as Tensor, tf.mul(tf.sqrt(f32(x)), 2)) };
      },
    },
    {
      kernelName: 'Rsqrt',
      inputsToSave: ['x'],
      gradFunc: (dy, saved) => {
        const [x] = saved as [Tensor];
        return { x: () => tf.neg(tf.div(dy as Tensor, tf.mul(tf.pow(x, 1.5), 2))) };
      },
    },
    {
      kernelName: 'Exp',
      outputsToSave: [true],
      gradFunc: (dy, saved) => {
        const [y] = saved as [Tensor];
        return { x: () => tf.mul(dy as Tensor, y) };
      },
    },
    {
      kernelName: 'Abs',
      inputsToSave: ['x'],
      gradFunc: (dy, saved) => {
        const [x] = saved as [Tensor];
        return { x: () => tf.mul(dy as Tensor, tf.step(f32(x), -1)) };
      },
    },
    { kernelName: 'Cast', gradFunc: (dy) => ({ x: () => tf.clone(dy as Tensor) }) },
    { kernelName: 'Identity', gradFunc: (dy) => ({ x: () => f32(dy as Tensor) }) },
  ];
}

/** Relu, Relu6, LeakyRelu, Elu, Sigmoid, Tanh, ClipByValue. */
export function activationGrads(h: GradHelpers): GradConfig[] {
  const { tf, f32, run, a4 } = h;
  return [
    {
      kernelName: 'Relu',
      inputsToSave: ['x'],
      gradFunc: (dy, saved) => {
        const [x] = saved as [Tensor];
        return { x: () => tf.mul(dy as Tensor, f32(tf.step(x))) };
      },
    },
    {
      kernelName: 'Relu6',
      inputsToSave: ['x'],
      gradFunc: (dy, saved) => {
        const [x] = saved as [Tensor];
        return { x: () => tf.mul(dy as Tensor, f32(tf.mul(tf.lessEqual(x, 6), tf.step(x)))) };
      },
    },
    {
      kernelName: 'LeakyRelu',
      inputsToSave: ['x'],
      gradFunc: (dy, saved, attrs) => {
        const [x] = saved as [Tensor];
        const alpha = a4(attrs).alpha as number;
        return { x: () => tf.where(tf.greater(x, 0), dy as Tensor, tf.mul(dy as Tensor, alpha)) };
      },
    },
    {
      kernelName: 'Elu',
      outputsToSave: [true],
      gradFunc: (dy, saved) => {
        const [y] = saved as [Tensor];
        return { x: () => run('EluGrad', { dy: dy as Tensor, y }) };
      },
    },
    {
      kernelName: 'Sigmoid',
      outputsToSave: [true],
      gradFunc: (dy, saved) => {
        const [y] = saved as [Tensor];
        return { x: () => tf.mul(dy as Tensor, tf.mul(y, tf.sub(tf.scalar(1), y))) };
      },
    },
    {
      kernelName: 'Tanh',
      outputsToSave: [true],
      gradFunc: (dy, saved) => {
        const [y] = saved as [Tensor];
        return { x: () => tf.mul(tf.sub(tf.scalar(1), tf.square(y)), dy as Tensor) };
      },
    },
    {
      kernelName: 'ClipByValue',
      inputsToSave: ['x'],
      gradFunc: (dy, saved, attrs) => {
        const [x] = saved as [Tensor];
        const { clipValueMin, clipValueMax } = a4(attrs) as { clipValueMin: number; clipValueMax: number };
        return {
          x: () =>
            tf.where(
              tf.logicalAnd(tf.greaterEqual(x, clipValueMin), tf.lessEqual(x, clipValueMax)),
              dy as Tensor,
              tf.zerosLike(dy as Tensor),
            ),
        };
      },
    },
  ];
}
