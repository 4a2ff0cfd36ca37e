// @vladmandic/face-api (its node-wasm build) loaded against the tfjs packages installed here, for
// tests and benchmarks that compare with it. That
// build requires "@tensorflow/tfjs" (the union package, not installed), so a require-cache entry made
// of tfjs-core + tfjs-converter stands in for it, and the chained tensor methods the union package
// registers (t.as3D(), t.div(), t.mean() ...) are added to Tensor.prototype as thin wrappers of the
// tfjs-core ops.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type * as tfCore from '@tensorflow/tfjs-core';
import { packageRoot } from '../../src/util/packages.js';

export type Tf = typeof tfCore;

export interface FaceApiResult {
  detection: { score: number; box: { x: number; y: number; width: number; height: number } };
  descriptor: Float32Array;
}

interface Net {
  loadFromDisk(dir: string): Promise<void>;
  dispose(): void;
}

interface Chain {
  withFaceLandmarks(): { withFaceDescriptors(): Promise<FaceApiResult[]> };
}

export interface FaceApi {
  nets: { ssdMobilenetv1: Net; faceLandmark68Net: Net; faceRecognitionNet: Net };
  SsdMobilenetv1Options: new (o: { minConfidence?: number; maxResults?: number }) => unknown;
  detectAllFaces(input: tfCore.Tensor3D, options: unknown): Chain & PromiseLike<unknown>;
}

const require = createRequire(import.meta.url);

/** tfjs-core (the CommonJS instance face-api will see) on the wasm backend, single-threaded. */
export async function wasmTf(threads = 1): Promise<Tf> {
  const tf = require('@tensorflow/tfjs-core') as Tf;
  const wasm = require('@tensorflow/tfjs-backend-wasm') as { setThreadsCount(n: number): void };
  wasm.setThreadsCount(threads); // before the backend initialises
  if (!(await tf.setBackend('wasm'))) throw new Error('tfjs wasm backend failed to initialise');
  await tf.ready();
  return tf;
}

/** Loads face-api's node-wasm build with the shim above. */
export function loadFaceApi(): FaceApi {
  const Module = require('node:module') as {
    _resolveFilename: (req: string, ...rest: unknown[]) => string;
    new (id: string): { filename: string; loaded: boolean; exports: unknown };
  };
  const core = require('@tensorflow/tfjs-core') as Record<string, unknown> & Tf;
  const proto = core.Tensor.prototype as unknown as Record<string, unknown>;
  for (const k of ['as1D', 'as2D', 'as3D', 'as4D', 'as5D'])
    if (!(k in proto))
      proto[k] = function (this: tfCore.Tensor, ...shape: number[]) {
        return core.reshape(this, shape.length ? shape : [-1]); // as1D() takes no shape
      };
  for (const [k, f] of Object.entries(core))
    if (typeof f === 'function' && /^[a-z]/.test(k) && !(k in proto))
      proto[k] = function (this: tfCore.Tensor, ...args: unknown[]) {
        return (f as (...a: unknown[]) => unknown)(this, ...args);
      };
  const virtual = join(packageRoot('@tensorflow/tfjs-core'), '..', 'tfjs', 'virtual-union.js');
  const m = new Module(virtual);
  m.filename = virtual;
  m.loaded = true;
  m.exports = { ...core, ...(require('@tensorflow/tfjs-converter') as object) };
  require.cache[virtual] = m as unknown as NodeJS.Module;
  const orig = Module._resolveFilename;
  Module._resolveFilename = function (this: unknown, req: string, ...rest: unknown[]) {
    return req === '@tensorflow/tfjs' ? virtual : orig.call(this, req, ...rest);
  };
  try {
    return require(join(packageRoot('@vladmandic/face-api'), 'dist', 'face-api.node-wasm.js')) as FaceApi;
  } finally {
    Module._resolveFilename = orig;
  }
}

/** face-api with SSD-MobileNet v1 + 68-point landmarks + the 128-d recognition net, from its own model folder. */
export async function loadFaceApiModels(): Promise<FaceApi> {
  const api = loadFaceApi();
  const dir = join(packageRoot('@vladmandic/face-api'), 'model');
  await api.nets.ssdMobilenetv1.loadFromDisk(dir);
  await api.nets.faceLandmark68Net.loadFromDisk(dir);
  await api.nets.faceRecognitionNet.loadFromDisk(dir);
  return api;
}
