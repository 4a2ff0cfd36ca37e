/**
 * The style gradients and wasm's missing backprop kernels register once, and the engine's leak
 * check that every other wasm-grad test relies on is on.
 * The checks and their tolerances: test/helpers/wasm-grad-check.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerStyleGradients, styleGradientKernelNames } from '../../src/style/kernels/gradients/index.js';
import {
  isWasmGradKernel,
  registerWasmGradKernels,
  WASM_GRAD_FIXES,
  WASM_GRAD_KERNELS,
} from '../../src/style/kernels/wasm-grad.js';
import { describe, expect, it } from 'vitest';
import { useWasmGradients } from '../helpers/wasm-grad-check.js';

useWasmGradients();

describe('registration', () => {
  it("the engine's per-kernel leak check is on (a kernel leaking a wasm buffer throws)", () => {
    const made: tf.TensorInfo[] = [];
    tf.registerKernel({
      kernelName: 'VigilLeakProbe',
      backendName: 'wasm',
      kernelFunc: ({ inputs, backend }) => {
        const neg = tf.getKernel('Neg', 'wasm').kernelFunc;
        made.push(neg({ inputs, backend }) as tf.TensorInfo); // leaked on purpose
        made.push(neg({ inputs, backend }) as tf.TensorInfo);
        return made[1] as tf.TensorInfo;
      },
    });
    const x = tf.ones([3]);
    expect(() => tf.engine().runKernel('VigilLeakProbe', { x }, {})).toThrow(/memory leak/);
    tf.unregisterKernel('VigilLeakProbe', 'wasm');
    for (const t of made) tf.engine().backend.disposeData(t.dataId);
    x.dispose();
  });

  it('registers exactly the missing wasm kernels, once (idempotent)', () => {
    for (const name of Object.keys(WASM_GRAD_KERNELS)) {
      expect(tf.getKernel(name, 'wasm')).toBeDefined();
      expect(isWasmGradKernel(tf, name)).toBe(true);
    }
    // wasm's wrong kernels are fixed, its right ones kept
    for (const name of Object.keys(WASM_GRAD_FIXES)) expect(isWasmGradKernel(tf, name)).toBe(true);
    for (const name of ['Conv2DBackpropInput', 'AvgPoolGrad', 'EluGrad'])
      expect(isWasmGradKernel(tf, name)).toBe(false);
    expect(registerWasmGradKernels(tf)).toEqual([]);
    expect(registerStyleGradients(tf)).toEqual([]);
    for (const name of styleGradientKernelNames(tf)) expect(tf.getGradient(name)).toBeDefined();
  });
});
