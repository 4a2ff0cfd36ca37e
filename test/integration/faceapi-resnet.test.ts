import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { getThreadsCount, setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadFaceApiResnet } from '../../src/faces/embed/faceapi-resnet.js';
import { loadFaceApi as loadSharedFaceApi } from '../helpers/faceapi.js';
import type { LoadedModel, ModelManifest } from '../../src/inference/contract.js';
import { cosine } from '../../src/inference/onnx/verify.js';
import { packageRoot } from '../../src/util/packages.js';
import { skipUnless } from '../helpers/requirements.js';

// Our plain-tfjs re-implementation of face-api's ResNet-34 recognition net, checked against
// @vladmandic/face-api itself (its node-wasm build) on real 150x150 face chips.

const CROPS = '/work/shared/data/faces/dlib_johns_crops';
const PER_PERSON = 4;
const MANIFEST = {
  name: 'faceapi-resnet34',
  package: '@vladmandic/face-api',
  path: 'model/face_recognition_model-weights_manifest.json',
  format: 'faceapi-resnet34',
  input: [150, 150, 3],
  outputs: ['descriptor'],
} as unknown as ModelManifest;

interface FaceApiRecognition {
  nets: {
    faceRecognitionNet: {
      loadFromDisk(dir: string): Promise<void>;
      computeFaceDescriptor(input: tf.Tensor | tf.Tensor[]): Promise<Float32Array | Float32Array[]>;
      dispose(): void;
    };
  };
}

/**
 * Loads face-api's node-wasm build against the tfjs packages installed here. That build requires
 * "@tensorflow/tfjs" (the union package, not installed): it is served from a require-cache entry made
 * of tfjs-core + tfjs-converter (the same module instances this test uses), and the chained tensor
 * methods the union package registers (t.as3D(), t.div(), t.mean() ...) are added to
 * Tensor.prototype as thin wrappers of the tfjs-core ops.
 */
/** face-api's own code, loaded against the installed tfjs packages (test/helpers/faceapi.ts). */
function loadFaceApi(): FaceApiRecognition {
  return loadSharedFaceApi() as unknown as FaceApiRecognition;
}

interface Face {
  person: string;
  file: string;
  rgb: Float32Array;
}

async function loadFaces(): Promise<Face[]> {
  const faces: Face[] = [];
  for (const person of readdirSync(CROPS).sort()) {
    const files = readdirSync(join(CROPS, person))
      .filter((f) => /\.(jpe?g|png)$/i.test(f))
      .sort()
      .slice(0, PER_PERSON);
    for (const file of files) {
      const { data, info } = await sharp(join(CROPS, person, file))
        .removeAlpha()
        .toColourspace('srgb')
        .raw()
        .toBuffer({ resolveWithObject: true });
      if (info.width !== 150 || info.height !== 150 || info.channels !== 3)
        throw new Error(
          `${person}/${file}: ${info.width}x${info.height}x${info.channels}, expected 150x150x3`,
        );
      faces.push({ person, file, rgb: Float32Array.from(data) });
    }
  }
  return faces;
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
};
const l2 = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += ((a[i] as number) - (b[i] as number)) ** 2;
  return Math.sqrt(s);
};
const batchOf = (faces: Face[]) => {
  const data = new Float32Array(faces.length * 150 * 150 * 3);
  faces.forEach((f, i) => {
    data.set(f.rgb, i * f.rgb.length);
  });
  return { data, shape: [faces.length, 150, 150, 3] };
};

const cropsMissing = skipUnless(
  existsSync(CROPS) ? null : `${CROPS} is absent (../shared/data)`,
  'face-api ResNet-34 equivalence tests',
);

describe.skipIf(cropsMissing)('face-api ResNet-34 recognition net in plain tfjs', () => {
  let model: LoadedModel;
  let faceapi: FaceApiRecognition;
  let faces: Face[];
  const ours: Float32Array[] = [];
  const ref: Float32Array[] = [];

  beforeAll(async () => {
    setThreadsCount(1); // must precede backend initialisation
    await import('@tensorflow/tfjs-backend-wasm');
    expect(await tf.setBackend('wasm')).toBe(true);
    await tf.ready();
    model = await loadFaceApiResnet(tf, MANIFEST);
    faceapi = loadFaceApi();
    await faceapi.nets.faceRecognitionNet.loadFromDisk(join(packageRoot('@vladmandic/face-api'), 'model'));
    faces = await loadFaces();
    for (const f of faces) {
      const [r] = await model.run({ data: f.rgb, shape: [1, 150, 150, 3] });
      ours.push(r?.data as Float32Array);
      const t = tf.tensor3d(f.rgb, [150, 150, 3], 'float32');
      ref.push((await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(t)) as Float32Array);
      t.dispose();
    }
  }, 180_000);
  afterAll(() => {
    faceapi?.nets.faceRecognitionNet.dispose();
    model?.dispose();
  });

  it('runs single-threaded on wasm', () => {
    expect(tf.getBackend()).toBe('wasm');
    expect(getThreadsCount()).toBe(1);
  });

  it("matches face-api's own computeFaceDescriptor on every face", () => {
    expect(faces.length).toBeGreaterThanOrEqual(10);
    let cosMin = 1;
    let diffMax = 0;
    for (let i = 0; i < faces.length; i++) {
      const a = ours[i] as Float32Array;
      const b = ref[i] as Float32Array;
      expect(a).toHaveLength(128);
      expect(b).toHaveLength(128);
      cosMin = Math.min(cosMin, cosine(a, b));
      diffMax = Math.max(diffMax, maxAbsDiff(a, b));
    }
    console.log(
      `faceapi-resnet vs face-api on ${faces.length} faces: cosine min ${cosMin.toFixed(8)}, max |diff| ${diffMax.toExponential(2)}`,
    );
    expect(cosMin).toBeGreaterThanOrEqual(0.9999);
    expect(diffMax).toBeLessThan(1e-3);
  });

  it("matches face-api's padding + resize for a non-square input", async () => {
    const f = faces[0] as Face;
    const rows = f.rgb.slice(0, 120 * 150 * 3); // the top 120 rows: 120x150
    const [r] = await model.run({ data: rows, shape: [1, 120, 150, 3] });
    const t = tf.tensor3d(rows, [120, 150, 3], 'float32');
    const b = (await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(t)) as Float32Array;
    t.dispose();
    expect(cosine(r?.data as Float32Array, b)).toBeGreaterThanOrEqual(0.9999);
  });

  it('the same person is closer than different persons', () => {
    const n = faces.length;
    const same: number[] = [];
    const diff: number[] = [];
    let nnCorrect = 0;
    for (let i = 0; i < n; i++) {
      let best = Number.POSITIVE_INFINITY;
      let bestJ = -1;
      for (let j = 0; j < n; j++) {
        if (i === j) continue;
        const d = l2(ours[i] as Float32Array, ours[j] as Float32Array);
        if (j > i) (faces[i]?.person === faces[j]?.person ? same : diff).push(d);
        if (d < best) [best, bestJ] = [d, j];
      }
      if (faces[bestJ]?.person === faces[i]?.person) nnCorrect++;
    }
    const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
    console.log(
      `faceapi-resnet sanity: same-person L2 mean ${mean(same).toFixed(3)} (max ${Math.max(...same).toFixed(3)}), ` +
        `different-person mean ${mean(diff).toFixed(3)} (min ${Math.min(...diff).toFixed(3)}), 1-NN ${nnCorrect}/${n}`,
    );
    expect(mean(same)).toBeLessThan(mean(diff));
    expect(nnCorrect / n).toBeGreaterThanOrEqual(0.9);
    // two photos of one person vs. a photo of another
    const a = faces.findIndex((f) => f.person === faces[0]?.person && f !== faces[0]);
    const other = faces.findIndex((f) => f.person !== faces[0]?.person);
    expect(l2(ours[0] as Float32Array, ours[a] as Float32Array)).toBeLessThan(
      l2(ours[0] as Float32Array, ours[other] as Float32Array),
    );
  });

  it('a batch of 4 gives the same descriptors as 4 single calls', async () => {
    const four = [0, 5, 10, 15].map((i) => faces[i % faces.length] as Face);
    const [r] = await model.run(batchOf(four));
    expect(r?.shape).toEqual([4, 128]);
    expect(r?.data).toHaveLength(4 * 128);
    four.forEach((f, k) => {
      const single = ours[faces.indexOf(f)] as Float32Array;
      expect(maxAbsDiff(r?.data.subarray(k * 128, (k + 1) * 128) as Float32Array, single)).toBeLessThan(1e-5);
    });
  });

  it('leaks no tensors across calls; dispose() frees the weights', async () => {
    const input = batchOf(faces.slice(0, 2));
    await model.run(input);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) await model.run(input);
    expect(tf.memory().numTensors).toBe(before);
    await expect(model.run({ data: new Float32Array(10), shape: [1, 150, 150, 3] })).rejects.toThrow();
    expect(tf.memory().numTensors).toBe(before);
    const m2 = await loadFaceApiResnet(tf, MANIFEST);
    const loaded = tf.memory().numTensors - before;
    expect(loaded).toBe(2 + 14 * 4 + 1); // stem filter+bias, 14 blocks x 2 convs x (filter+bias), fc
    m2.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
