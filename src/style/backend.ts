/**
 * The tfjs handle style training and optimisation run on: tfjs-node(-gpu) when installed (native
 * gradients, GPU), else wasm with Vigil's gradient kernels registered (src/style/kernels), else cpu.
 */
import type * as tfTypes from '@tensorflow/tfjs-core';
import { type BackendPreference, createTfjsEngine } from '../inference/tfjs-engine.js';
import { registerStyleGradients } from './kernels/gradients/index.js';
import { registerWasmGradKernels } from './kernels/wasm-grad.js';

export type Tf = typeof tfTypes;

export async function styleTf(pref: BackendPreference = 'auto'): Promise<{ tf: Tf; backend: string }> {
  const engine = await createTfjsEngine(pref);
  const tf = (
    engine.backend === 'tensorflow'
      ? await import('@tensorflow/tfjs-node' as string).catch(
          () => import('@tensorflow/tfjs-node-gpu' as string),
        )
      : await import('@tensorflow/tfjs-core')
  ) as Tf;
  // tfjs-core alone registers no gradients (the union package @tensorflow/tfjs does): add them.
  registerStyleGradients(tf);
  // wasm's own Conv2DBackpropInput is a plain loop, 4-19x slower than Vigil's (bench/grad-kernels)
  if (engine.backend === 'wasm') registerWasmGradKernels(tf, { replace: ['Conv2DBackpropInput'] });
  return { tf, backend: engine.backend };
}
