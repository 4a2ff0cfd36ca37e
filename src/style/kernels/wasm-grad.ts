import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import {
  conv2DBackpropFilter,
  conv2DBackpropInput,
  depthwiseBackpropFilter,
  depthwiseBackpropInput,
} from './conv-backprop.js';
import {
  halfPixelOr,
  maxPoolGrad,
  resizeBilinearGradHalfPixel,
  resizeNearestGrad,
} from './pool-resize-grad.js';
import type { KernelArgs, Tf } from './wasm-ops.js';

export type { Tf } from './wasm-ops.js';

type Impl = (tf: Tf, args: KernelArgs) => TensorInfo;

/**
 * Gradient kernels tfjs-backend-wasm 4.22 lacks for the ops style transfer trains through (found by
 * scripts/wasm-grad-probe.mjs): the backprop of conv2d's filter and of depthwiseConv2d.
 */
export const WASM_GRAD_KERNELS: Readonly<Record<string, Impl>> = {
  Conv2DBackpropFilter: conv2DBackpropFilter,
  DepthwiseConv2dNativeBackpropFilter: depthwiseBackpropFilter,
  DepthwiseConv2dNativeBackpropInput: depthwiseBackpropInput,
};

/**
 * wasm 4.22 kernels that compute wrong gradients, and their fixes (registered over them unless
 * `fixWrong: false`): MaxPoolGrad (drops or misplaces the gradient of windows whose maximum is
 * negative), ResizeBilinearGrad and ResizeNearestNeighborGrad (ignore halfPixelCenters; the bilinear
 * fix defers to wasm's kernel when it is false). Each is made from wasm's original kernel.
 */
export const WASM_GRAD_FIXES: Readonly<Record<string, (original: KernelFunc) => Impl>> = {
  MaxPoolGrad: () => maxPoolGrad,
  ResizeBilinearGrad: (original) => halfPixelOr(original, resizeBilinearGradHalfPixel),
  ResizeNearestNeighborGrad: () => (_tf, args) => resizeNearestGrad(args),
};

/**
 * Kernels wasm has, right but slow, that `replace` may swap for an implementation on wasm's fast
 * forward kernels: Conv2DBackpropInput (wasm's is a plain loop, ~10x slower than this XNNPACK Conv2D
 * route; see bench/grad-kernels).
 */
export const WASM_GRAD_REPLACEMENTS: Readonly<Record<string, Impl>> = {
  Conv2DBackpropInput: conv2DBackpropInput,
};

/** Options of registerWasmGradKernels. */
export interface WasmGradOptions {
  /** Register WASM_GRAD_FIXES over wasm's wrong kernels (default true). */
  fixWrong?: boolean;
  /** Names from WASM_GRAD_REPLACEMENTS to register over wasm's own (slow) kernel (default none). */
  replace?: readonly string[];
}

const marker = Symbol.for('vigil.wasmGradKernel');
const isOurs = (k: KernelConfig | undefined) =>
  !!k && (k.kernelFunc as unknown as Record<symbol, unknown>)[marker] === true;

/**
 * Registers, for the tfjs 'wasm' backend, the gradient kernels it lacks (WASM_GRAD_KERNELS), fixes for
 * those it gets wrong (WASM_GRAD_FIXES, unless `fixWrong: false`) and, on request, faster versions of
 * slow ones (`replace`, from WASM_GRAD_REPLACEMENTS). The convolution kernels are composed of wasm's
 * own forward kernels (XNNPACK matMul and convolution, slices, pads, transposes) called directly on
 * TensorInfos: no engine tensors, nothing on the tape, every intermediate freed.
 *
 * Idempotent: a missing kernel is registered only while `getKernel(name, 'wasm')` has none, and a
 * kernel already ours is never registered again. May run before or after the wasm backend starts.
 * The ops' gradient definitions must be registered too (registerStyleGradients in ./gradients/index.ts,
 * where @tensorflow/tfjs is not installed).
 *
 * @param tf the tfjs-core namespace (the instance tfjs-backend-wasm registered its kernels in)
 * @param options fixWrong (default true), replace (default [])
 * @returns the kernel names this call registered
 */
export function registerWasmGradKernels(tf: Tf, options: WasmGradOptions = {}): string[] {
  const added: string[] = [];
  const register = (kernelName: string, impl: Impl, over?: KernelConfig) => {
    const kernelFunc = ((args: KernelArgs) => impl(tf, args)) as unknown as KernelFunc;
    Object.defineProperty(kernelFunc, marker, { value: true });
    if (over) tf.unregisterKernel(kernelName, 'wasm');
    // wasm's kernels bind their wasm functions in setupFunc when the backend starts: keep it, for the
    // original kernel a fix defers to.
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc, setupFunc: over?.setupFunc });
    added.push(kernelName);
  };
  for (const [name, impl] of Object.entries(WASM_GRAD_KERNELS))
    if (tf.getKernel(name, 'wasm') === undefined) register(name, impl);
  if (options.fixWrong ?? true)
    for (const [name, fix] of Object.entries(WASM_GRAD_FIXES)) {
      const existing = tf.getKernel(name, 'wasm');
      // none: tfjs-backend-wasm is not loaded (nothing to fix), or ours is there already
      if (!existing || isOurs(existing)) continue;
      register(name, fix(existing.kernelFunc), existing);
    }
  for (const name of options.replace ?? []) {
    const impl = WASM_GRAD_REPLACEMENTS[name];
    if (!impl) throw new Error(`registerWasmGradKernels: no replacement for '${name}'`);
    const existing = tf.getKernel(name, 'wasm');
    if (isOurs(existing)) continue;
    register(name, impl, existing);
  }
  return added;
}

/** Whether the wasm kernel `name` is one registerWasmGradKernels registered. */
export function isWasmGradKernel(tf: Tf, name: string): boolean {
  return isOurs(tf.getKernel(name, 'wasm'));
}
