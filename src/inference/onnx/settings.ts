import { resolve } from 'node:path';
import type { InferenceConfig } from '../../config/schema.js';
import type { EngineSettings } from '../protocol.js';
import { onnxCacheDir } from './cache.js';

/** The workers' engine settings from the `inference` section of the config and the data directory. */
export function engineSettings(inference: InferenceConfig, dataDir: string): EngineSettings {
  return {
    engine: inference.engine,
    models: Object.fromEntries(Object.entries(inference.models).map(([name, m]) => [name, m.engine])),
    onnx: {
      intraOpThreads: inference.onnx.intraOpThreads,
      executionProviders: inference.onnx.executionProviders,
      cacheDir: resolve(inference.onnx.cacheDir ?? onnxCacheDir(dataDir)),
    },
  };
}
