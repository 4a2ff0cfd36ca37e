import type { GradConfig } from '@tensorflow/tfjs-core';
import { conv2dGrads, depthwiseConvGrads, matMulGrads, resizePoolGrads } from './conv-pool.js';
import { activationGrads, arithmeticGrads, unaryMathGrads } from './elementwise.js';
import { gradHelpers, type Tf } from './helpers.js';
import { reductionAndReshapeGrads, sliceConcatPadGrads } from './shape.js';

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
  const h = gradHelpers(tf);
  return [
    ...arithmeticGrads(h),
    ...unaryMathGrads(h),
    ...activationGrads(h),
    ...reductionAndReshapeGrads(h),
    ...sliceConcatPadGrads(h),
    ...matMulGrads(h),
    ...conv2dGrads(h),
    ...depthwiseConvGrads(h),
    ...resizePoolGrads(h),
  ];
}
