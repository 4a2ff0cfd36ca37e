import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type * as tfTypes from '@tensorflow/tfjs-core';

type Tf = typeof tfTypes;

interface WeightsManifestGroup {
  paths: string[];
  weights: tfTypes.io.WeightsManifestEntry[];
}

/** Reads a tfjs weights manifest and its .bin shards and decodes them into named tensors. */
export function readWeightMap(tf: Tf, manifestFile: string): tfTypes.NamedTensorMap {
  const groups = JSON.parse(readFileSync(manifestFile, 'utf8')) as WeightsManifestGroup[];
  if (!Array.isArray(groups) || groups.length === 0)
    throw new Error(`${manifestFile}: not a tfjs weights manifest (expected a non-empty array of groups)`);
  const dir = dirname(manifestFile);
  const map: tfTypes.NamedTensorMap = {};
  for (const group of groups) {
    const buffers = group.paths.map((p) => {
      const b = readFileSync(join(dir, p));
      return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
    });
    const data = buffers.length === 1 ? (buffers[0] as ArrayBuffer) : tf.io.concatenateArrayBuffers(buffers);
    Object.assign(map, tf.io.decodeWeights(data, group.weights));
  }
  return map;
}
