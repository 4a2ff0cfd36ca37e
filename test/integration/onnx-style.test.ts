/**
 * Vigil's style nets through the ONNX converter: each architecture of src/style/net.ts, exported by
 * Vigil's own graph writer (src/style/graph.ts) with seeded weights (and every trained net under
 * models/styles/, when there are any), on real frames: ONNX Runtime's output stays within one 8-bit
 * level (<= 1 on the 0-255 scale) of tfjs's.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { convertFile } from '../../src/inference/onnx/cache.js';
import { convertTfGraph, type TfGraph, type TfNode } from '../../src/inference/onnx/convert/index.js';
import { encodeModel } from '../../src/inference/onnx/proto.js';
import { compareImages } from '../../src/inference/onnx/verify.js';
import { STYLE_INPUT, STYLE_OUTPUT, styleGraph } from '../../src/style/graph.js';
import { initParams, STYLE_ARCHS } from '../../src/style/net.js';
import { listStyles } from '../../src/style/store.js';
import { DATA } from '../helpers/faces.js';
import { rgbFrame, samplePhoto } from '../helpers/images.js';
import { runTfjs } from '../helpers/onnx-graph.js';
import { skipUnless } from '../helpers/requirements.js';

async function frames(w: number, h: number): Promise<Float32Array> {
  const files = [samplePhoto(3)];
  const amber = join(DATA, 'style', 'content', 'amber.jpg');
  if (existsSync(amber)) files.push(amber);
  else console.warn(`shared data absent (${amber}): style nets compared on a face-api sample photo only`);
  const out = new Float32Array(files.length * w * h * 3);
  for (const [i, f] of files.entries()) {
    const img = await rgbFrame(f, w, h);
    out.set(Float32Array.from(img.pixels), i * w * h * 3);
  }
  return out;
}

async function ortRun(bytes: Uint8Array, x: Float32Array, shape: number[]): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all', intraOpNumThreads: 2 });
  try {
    const r = await s.run({ [STYLE_INPUT]: new ort.Tensor('float32', x, shape) }, [STYLE_OUTPUT]);
    return r[STYLE_OUTPUT]?.data as Float32Array;
  } finally {
    await s.release();
  }
}

function exported(arch: keyof typeof STYLE_ARCHS): TfGraph {
  const a = STYLE_ARCHS[arch];
  if (!a) throw new Error(arch);
  const p = initParams(tf, a, 3);
  const params = Object.fromEntries(Object.entries(p).map(([k, t]) => [k, t.dataSync() as Float32Array]));
  tf.dispose(Object.values(p));
  const { json, weights } = styleGraph(a, params);
  return {
    nodes: json.modelTopology.node as TfNode[],
    weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
    weightData: new Uint8Array(weights),
  };
}

describe('style nets: ONNX Runtime vs tfjs on real frames', () => {
  for (const arch of ['tiny', 'small', 'small-full', 'medium'] as const)
    it(`${arch} (seeded weights) at 320x180: within one 8-bit level`, async () => {
      await tf.setBackend('cpu');
      const g = exported(arch);
      const bytes = encodeModel(convertTfGraph(g, { outputs: [STYLE_OUTPUT], name: arch }));
      const x = await frames(320, 180);
      const shape = [x.length / (320 * 180 * 3), 180, 320, 3];
      const [ref] = await runTfjs(g, x, shape, [STYLE_OUTPUT]);
      const got = await ortRun(bytes, x, shape);
      const eq = compareImages(ref as Float32Array, got, 1, `${shape[0]} frame(s)`);
      console.log(`style ${arch}: max |onnx - tfjs| = ${eq.value.toFixed(5)} on 0-255`);
      expect(eq.ok, `max abs ${eq.value}`).toBe(true);
    }, 120_000);

  const trained = [...listStyles().entries()];
  it.skipIf(
    skipUnless(
      trained.length ? null : 'no trained style under models/styles/',
      'trained-style ONNX equivalence',
    ),
  )(
    'every trained style under models/styles/ converts and matches',
    async () => {
      await tf.setBackend('cpu');
      for (const [name, dir] of trained) {
        const file = join(dir, 'model.json');
        const { bytes } = convertFile(file, { outputs: [STYLE_OUTPUT], name });
        const x = await frames(320, 180);
        const shape = [x.length / (320 * 180 * 3), 180, 320, 3];
        const { readTfGraphFile } = await import('../../src/inference/onnx/cache.js');
        const [ref] = await runTfjs(readTfGraphFile(file), x, shape, [STYLE_OUTPUT]);
        const eq = compareImages(ref as Float32Array, await ortRun(bytes, x, shape), 1, name);
        console.log(`style ${name}: max |onnx - tfjs| = ${eq.value.toFixed(5)} on 0-255`);
        expect(eq.ok, `${name}: max abs ${eq.value}`).toBe(true);
      }
    },
    300_000,
  );
});
