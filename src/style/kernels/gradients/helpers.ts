/** What the gradient definitions share: the tfjs namespace and tfjs-core's own small helpers. */
import type * as tfTypes from '@tensorflow/tfjs-core';
import type { NamedAttrMap, NamedTensorMap, Tensor } from '@tensorflow/tfjs-core';

export type Tf = typeof tfTypes;

export interface GradHelpers {
  tf: Tf;
  /** Runs a backend kernel by name (for the backprop kernels that have no public op). */
  run: (name: string, inputs: NamedTensorMap, attrs?: object) => Tensor;
  f32: (t: Tensor) => Tensor;
  /**
   * Sums a broadcast gradient back to `shape` (tfjs-core's pattern for binary ops). Always a new
   * tensor: Add's two gradients must not be one tensor (tf.grads would return it twice).
   */
  unbroadcast: (g: Tensor, shape: number[], outShape: number[]) => Tensor;
  outShapeOf: (a: Tensor, b: Tensor) => number[];
  /** Swaps the last two axes (matMul's transpose). */
  T: (t: Tensor) => Tensor;
  mm: (a: Tensor, b: Tensor) => Tensor;
  /** A kernel's attributes as a plain record. */
  a4: (attrs: NamedAttrMap) => Record<string, unknown>;
}

export function gradHelpers(tf: Tf): GradHelpers {
  return {
    tf,
    run: (name, inputs, attrs = {}) => tf.engine().runKernel(name, inputs, attrs as NamedAttrMap) as Tensor,
    f32: (t) => tf.cast(t, 'float32'),
    unbroadcast: (g, shape, outShape) => {
      const axes = tf.backend_util.getReductionAxes(shape, outShape);
      return tf.reshape(axes.length > 0 ? tf.sum(g, axes) : g, shape);
    },
    outShapeOf: (a, b) => tf.broadcast_util.assertAndGetBroadcastShape(a.shape, b.shape),
    T: (t) => {
      const perm = t.shape.map((_, i) => i);
      const n = perm.length;
      [perm[n - 2], perm[n - 1]] = [n - 1, n - 2];
      return tf.transpose(t, perm);
    },
    mm: (a, b) => tf.matMul(a, b),
    a4: (attrs) => attrs as unknown as Record<string, unknown>,
  };
}
