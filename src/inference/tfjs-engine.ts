import type * as tfTypes from '@tensorflow/tfjs-core';
import type {
  InferenceEngine,
  LoadedModel,
  ModelManifest,
  SimilarityMatrix,
  TensorData,
} from './contract.js';
import { readArtifacts } from './model-loader.js';

export type BackendPreference = 'auto' | 'tensorflow' | 'wasm' | 'cpu';

type Tf = typeof tfTypes;

/** Builds a model of a format other than a tfjs graph (e.g. a network re-implemented in tfjs ops). */
export type ModelFormatLoader = (tf: Tf, manifest: ModelManifest) => Promise<LoadedModel>;
const formats = new Map<string, ModelFormatLoader>();

/** Lets tfjs engines of this thread load `format` (task modules register the formats they bring). */
export function registerModelFormat(format: string, loader: ModelFormatLoader): void {
  formats.set(format, loader);
}

/** Tries tfjs-node-gpu, then tfjs-node (optional packages: loaded only if installed and working). */
async function loadNativeTf(): Promise<{ tf: Tf; pkg: string } | null> {
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      const mod = (await import(pkg)) as Tf;
      return { tf: mod, pkg };
    } catch {
      // not installed, or its libtensorflow is missing
    }
  }
  return null;
}

/**
 * Picks and initialises a tfjs backend: tensorflow (native, if installed) > wasm > cpu for `auto`;
 * an explicit choice that cannot start is an error naming the backend.
 */
export async function createTfjsEngine(pref: BackendPreference): Promise<InferenceEngine> {
  let tf: Tf | undefined;
  let backend = '';
  if (pref === 'auto' || pref === 'tensorflow') {
    const native = await loadNativeTf();
    if (native && (await native.tf.setBackend('tensorflow'))) {
      tf = native.tf;
      backend = 'tensorflow';
    } else if (pref === 'tensorflow') {
      throw new Error(
        'inference.backend "tensorflow" needs @tensorflow/tfjs-node-gpu or @tensorflow/tfjs-node installed',
      );
    }
  }
  if (!tf) {
    tf = await import('@tensorflow/tfjs-core');
    const order = pref === 'cpu' ? ['cpu'] : pref === 'wasm' ? ['wasm'] : ['wasm', 'cpu'];
    for (const b of order) {
      try {
        if (b === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
        else await import('@tensorflow/tfjs-backend-cpu');
        if (await tf.setBackend(b)) {
          await tf.ready();
          backend = b;
          break;
        }
      } catch (e) {
        if (pref !== 'auto')
          throw new Error(`inference.backend "${b}" failed to start: ${(e as Error).message}`);
      }
    }
    if (!backend) throw new Error('no tfjs backend could start (tried wasm, cpu)');
  }
  const tfc = tf;
  const { loadGraphModel } = await import('@tensorflow/tfjs-converter');
  tfc.enableProdMode();
  return {
    engine: 'tfjs',
    backend,
    memory: () => {
      const m = tfc.memory();
      return { tensors: m.numTensors, bytes: m.numBytes };
    },
    matrix(data: Float32Array, rows: number, dim: number): SimilarityMatrix {
      // Held transposed ([dim, rows]): matMul(q, gT) is ~8x faster on wasm than matMul(q, g, false, true)
      // (17.7 vs 140 ms for 8 x 10k x 1024, measured here).
      const g = tfc.tidy(() => tfc.transpose(tfc.tensor2d(data, [rows, dim], 'float32')));
      return {
        rows,
        async topK(queries, n, k) {
          const kk = Math.min(k, rows);
          const { values, indices } = tfc.tidy(() => {
            const q = tfc.tensor2d(queries, [n, dim], 'float32');
            return tfc.topk(tfc.matMul(q, g), kk);
          });
          try {
            return {
              values: (await values.data()) as Float32Array,
              indices: (await indices.data()) as Int32Array,
            };
          } finally {
            values.dispose();
            indices.dispose();
          }
        },
        dispose: () => g.dispose(),
      };
    },
    async load(manifest: ModelManifest): Promise<LoadedModel> {
      const custom = formats.get(manifest.format);
      if (custom) return custom(tfc, manifest);
      if (manifest.format !== 'tfjs-graph')
        throw new Error(
          `model "${manifest.name}" has format "${manifest.format}", which no loaded module provides (known: tfjs-graph${[...formats.keys()].map((f) => `, ${f}`).join('')})`,
        );
      const artifacts = readArtifacts(manifest);
      const handler: tfTypes.io.IOHandler = {
        load: async () => artifacts as unknown as tfTypes.io.ModelArtifacts,
      };
      const model = await loadGraphModel(handler);
      return {
        name: manifest.name,
        async run(input: TensorData): Promise<TensorData[]> {
          const x = tfc.tensor(input.data, input.shape, 'float32');
          let outs: tfTypes.Tensor[] = [];
          try {
            const res = model.execute(x, manifest.outputs);
            outs = Array.isArray(res) ? res : [res];
            return await Promise.all(
              outs.map(async (t) => ({ data: (await t.data()) as Float32Array, shape: t.shape })),
            );
          } finally {
            x.dispose();
            tfc.dispose(outs);
          }
        },
        dispose: () => model.dispose(),
      };
    },
  };
}
