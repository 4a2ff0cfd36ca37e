import type * as tfTypes from '@tensorflow/tfjs-core';
import type { GradConfig, NamedAttrMap, NamedTensorMap, Tensor, Tensor4D } from '@tensorflow/tfjs-core';

type Tf = typeof tfTypes;

/**
 * Gradient definitions (tfjs-core's, src/gradients/*_grad.ts in 4.22) for the ops style transfer
 * trains through: convolutions, resizes, pads, pools, activations, reductions, arithmetic and matMul.
 *
 * tfjs-core's node bundle (what `import '@tensorflow/tfjs-core'` loads in Node) ships the ops but not
 * their gradient registrations (those come with the union package @tensorflow/tfjs, not installed),
 * so tf.grads fails with "gradient function not found" before it ever reaches a backend kernel.
 * The definitions follow tfjs-core's own so that gradients equal those of a full tfjs install, with
 * one deliberate difference: BatchMatMul's gradient transposes explicitly instead of passing
 * matMul's transpose flags, which take a much slower path on the wasm backend (see bench/grad-kernels).
 *
 * @param tf the tfjs-core namespace
 * @returns the kernel names whose gradient this call registered (empty when all were present):
 *   idempotent, and a gradient already registered (by @tensorflow/tfjs or another module) is kept
 */
export function registerStyleGradients(tf: Tf): string[] {
  const added: string[] = [];
  for (const c of styleGradConfigs(tf)) {
    if (tf.getGradient(c.kernelName) !== undefined) continue;
    tf.registerGradient(c);
    added.push(c.kernelName);
  }
  return added;
}

/** The kernel names registerStyleGradients covers. */
export function styleGradientKernelNames(tf: Tf): string[] {
  return styleGradConfigs(tf).map((c) => c.kernelName);
}

function styleGradConfigs(tf: Tf): GradConfig[] {
  const run = (name: string, inputs: NamedTensorMap, attrs: object = {}): Tensor =>
    tf.engine().runKernel(name, inputs, attrs as NamedAttrMap) as Tensor;
  const f32 = (t: Tensor) => tf.cast(t, 'float32');
  /**
   * Sums a broadcast gradient back to `shape` (tfjs-core's pattern for binary ops). Always a new
   * tensor: Add's two gradients must not be one tensor (tf.grads would return it twice).
   */
  const unbroadcast = (g: Tensor, shape: number[], outShape: number[]): Tensor => {
    const axes = tf.backend_util.getReductionAxes(shape, outShape);
    return tf.reshape(axes.length > 0 ? tf.sum(g, axes) : g, shape);
  };
  const outShapeOf = (a: Tensor, b: Tensor) => tf.broadcast_util.assertAndGetBroadcastShape(a.shape, b.shape);
  /** Swaps the last two axes (matMul's transpose). */
  const T = (t: Tensor): Tensor => {
    const perm = t.shape.map((_, i) => i);
    const n = perm.length;
    [perm[n - 2], perm[n - 1]] = [n - 1, n - 2];
    return tf.transpose(t, perm);
  };
  const mm = (a: Tensor, b: Tensor) => tf.matMul(a, b);
  const a4 = (attrs: NamedAttrMap) => attrs as unknown as Record<string, unknown>;

  return [
    // ---- arithmetic
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
    // ---- elementwise
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
    { kernelName: 'Cast', gradFunc: (dy) => ({ x: () => tf.clone(dy as Tensor) }) },
    { kernelName: 'Identity', gradFunc: (dy) => ({ x: () => f32(dy as Tensor) }) },
    // ---- reductions and shape
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
    // ---- matMul (explicit transposes: see the doc comment)
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
    // ---- convolutions (the backprop kernels: src/style/kernels/wasm-grad.ts on wasm)
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
    // ---- resize and pools (their backprop kernels exist on wasm and cpu)
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
  ] satisfies GradConfig[] as GradConfig[];
}
