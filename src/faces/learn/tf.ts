import type * as tfTypes from '@tensorflow/tfjs-core';
import type { GradConfig, NamedAttrMap, Tensor } from '@tensorflow/tfjs-core';

/** The tfjs-core namespace (functional ops only: the chained `t.add()` API is not registered). */
export type Tf = typeof tfTypes;

let loaded: Promise<Tf> | undefined;

/**
 * tfjs-core on the main thread for training the small learned heads: wasm backend (cpu when wasm
 * cannot start), with the gradients of the few kernels training uses registered (see
 * registerLearnGradients). Independent of the inference workers, which have their own tfjs.
 */
export function loadTf(backend: 'wasm' | 'cpu' = 'wasm'): Promise<Tf> {
  loaded ??= (async () => {
    const tf = (await import('@tensorflow/tfjs-core')) as Tf;
    let ok = false;
    for (const b of backend === 'cpu' ? ['cpu'] : ['wasm', 'cpu']) {
      try {
        if (b === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
        else await import('@tensorflow/tfjs-backend-cpu');
        if (await tf.setBackend(b)) {
          await tf.ready();
          ok = true;
          break;
        }
      } catch {
        // try the next backend
      }
    }
    if (!ok) throw new Error('learn: no tfjs backend could start (tried wasm, cpu)');
    registerLearnGradients(tf);
    return tf;
  })();
  return loaded;
}

/**
 * Gradients of the kernels the heads and their losses use. tfjs-core's node bundle ships the ops but
 * not their gradient registrations (those live in the union package @tensorflow/tfjs, which Vigil does
 * not install), so tf.variableGrads would fail with "gradient function not found". The definitions
 * follow tfjs-core's own (src/gradients/*_grad.ts); a gradient already registered (by a full tfjs
 * install) is left alone. Checked against hand-computed and numerical gradients in the unit tests.
 */
export function registerLearnGradients(tf: Tf): void {
  const configs = [...matMulGrads(tf), ...arithmeticGrads(tf), ...unaryGrads(tf), ...reductionShapeGrads(tf)];
  for (const c of configs) if (tf.getGradient(c.kernelName) === undefined) tf.registerGradient(c);
}

function matMulGrads(tf: Tf): GradConfig[] {
  return [
    {
      kernelName: 'BatchMatMul',
      inputsToSave: ['a', 'b'],
      gradFunc: (dy, saved, attrs: NamedAttrMap) => {
        const [a, b] = saved as [Tensor, Tensor];
        const d = dy as Tensor;
        const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
        // Explicit transposes instead of matMul's transpose flags: on the wasm backend a flagged
        // matMul takes a slow path (x^T dy for a 60x1024 batch: ~300 ms vs ~10 ms).
        const T = (t: Tensor) => tf.transpose(t);
        if (!transposeA && !transposeB) return { a: () => tf.matMul(d, T(b)), b: () => tf.matMul(T(a), d) };
        if (!transposeA && transposeB) return { a: () => tf.matMul(d, b), b: () => tf.matMul(T(d), a) };
        if (transposeA && !transposeB) return { a: () => tf.matMul(b, T(d)), b: () => tf.matMul(a, d) };
        return { a: () => tf.matMul(T(b), T(d)), b: () => tf.matMul(T(d), T(a)) };
      },
    },
  ];
}

/** Add, Sub, Multiply, RealDiv (with broadcasting), Neg. */
function arithmeticGrads(tf: Tf): GradConfig[] {
  /** Sums a broadcast gradient back to the input's shape. */
  const unbroadcast = (g: Tensor, shape: number[]): Tensor => {
    const axes = tf.backend_util.getReductionAxes(shape, g.shape);
    return axes.length ? tf.reshape(tf.sum(g, axes), shape) : g;
  };
  return [
    {
      kernelName: 'Add',
      inputsToSave: ['a', 'b'],
      gradFunc: (dy, saved) => {
        const [a, b] = saved as [Tensor, Tensor];
        const d = dy as Tensor;
        return { a: () => unbroadcast(d, a.shape), b: () => unbroadcast(d, b.shape) };
      },
    },
    {
      kernelName: 'Sub',
      inputsToSave: ['a', 'b'],
      gradFunc: (dy, saved) => {
        const [a, b] = saved as [Tensor, Tensor];
        const d = dy as Tensor;
        return { a: () => unbroadcast(d, a.shape), b: () => tf.neg(unbroadcast(d, b.shape)) };
      },
    },
    {
      kernelName: 'Multiply',
      inputsToSave: ['a', 'b'],
      gradFunc: (dy, saved) => {
        const [a, b] = saved as [Tensor, Tensor];
        const d = dy as Tensor;
        return {
          a: () => unbroadcast(tf.mul(d, b), a.shape),
          b: () => unbroadcast(tf.mul(d, a), b.shape),
        };
      },
    },
    {
      kernelName: 'RealDiv',
      inputsToSave: ['a', 'b'],
      gradFunc: (dy, saved) => {
        const [a, b] = saved as [Tensor, Tensor];
        const d = dy as Tensor;
        return {
          a: () => unbroadcast(tf.div(d, b), a.shape),
          b: () => unbroadcast(tf.neg(tf.div(tf.mul(d, a), tf.square(b))), b.shape),
        };
      },
    },
    {
      kernelName: 'Neg',
      gradFunc: (dy) => ({ x: () => tf.neg(dy as Tensor) }),
    },
  ];
}

/** Square, Sqrt, Relu, Sigmoid, Softplus. */
function unaryGrads(tf: Tf): GradConfig[] {
  return [
    {
      kernelName: 'Square',
      inputsToSave: ['x'],
      gradFunc: (dy, saved) => {
        const [x] = saved as [Tensor];
        return { x: () => tf.mul(dy as Tensor, tf.mul(x, 2)) };
      },
    },
    {
      kernelName: 'Sqrt',
      inputsToSave: ['x'],
      gradFunc: (dy, saved) => {
        const [x] = saved as [Tensor];
        return { x: () => tf.div(dy as Tensor, tf.mul(tf.sqrt(x), 2)) };
      },
    },
    {
      kernelName: 'Relu',
      inputsToSave: ['x'],
      gradFunc: (dy, saved) => {
        const [x] = saved as [Tensor];
        return { x: () => tf.mul(dy as Tensor, tf.step(x)) };
      },
    },
    {
      kernelName: 'Sigmoid',
      outputsToSave: [true],
      gradFunc: (dy, saved) => {
        const [y] = saved as [Tensor];
        return { x: () => tf.mul(dy as Tensor, tf.mul(y, tf.sub(1, y))) };
      },
    },
    {
      kernelName: 'Softplus',
      inputsToSave: ['x'],
      gradFunc: (dy, saved) => {
        const [x] = saved as [Tensor];
        return { x: () => tf.mul(dy as Tensor, tf.sigmoid(x)) };
      },
    },
  ];
}

/** Sum, Reshape, Transpose, Identity. */
function reductionShapeGrads(tf: Tf): GradConfig[] {
  return [
    {
      kernelName: 'Sum',
      inputsToSave: ['x'],
      gradFunc: (dy, saved, attrs: NamedAttrMap) => {
        const [x] = saved as [Tensor];
        const axes = tf.util.parseAxisParam((attrs as { axis: number | number[] }).axis, x.shape);
        const expanded = x.shape.map((s, i) => (axes.includes(i) ? 1 : s));
        return { x: () => tf.mul(tf.reshape(dy as Tensor, expanded), tf.onesLike(x)) };
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
      gradFunc: (dy, _saved, attrs: NamedAttrMap) => {
        const perm = (attrs as { perm: number[] }).perm;
        const inv = perm.map((_, i) => perm.indexOf(i));
        return { x: () => tf.transpose(dy as Tensor, inv) };
      },
    },
    {
      kernelName: 'Identity',
      gradFunc: (dy) => ({ x: () => tf.clone(dy as Tensor) }),
    },
  ];
}
