/**
 * Styles on disk: models/styles/NAME/ holds model.json + weights.bin (a tfjs graph model written by
 * src/style/graph.ts), style.json (the recipe, the architecture and the final losses) and style.jpg
 * (a thumbnail of the painting, for the viewer's picker). Styles a user trains go to the same layout
 * under any folder given as `style.dirs` in the configuration.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../util/paths.js';
import { type GraphModelJson, paramsFromGraph, styleGraph } from './graph.js';
import type { LossNetName } from './loss-net.js';
import { STYLE_ARCHS, type StyleNetArch } from './net.js';

export const STYLES_DIR = join(PROJECT_ROOT, 'models', 'styles');
export const STYLE_NAME = /^[a-z0-9][a-z0-9_-]{0,47}$/;

export interface StyleManifest {
  name: string;
  /** A preset of STYLE_ARCHS, recorded with its full definition. */
  archName: string;
  arch: StyleNetArch;
  lossNet: LossNetName;
  /** Human-readable credit for the painting. */
  painting: string;
  recipe: {
    alpha: number;
    beta: number;
    gamma: number;
    /** Weight of the temporal term, when trained with one. */
    temporal?: number;
    /** 'centred' when the style cost compared covariances (absent: plain Grams). */
    gram?: 'plain' | 'centred';
    /** Multiples of styleSize the painting was read at (absent: [1]). */
    styleScales?: number[];
    /** The style it was fine-tuned from. */
    initFrom?: string;
    layerWeights: number[];
    steps: number;
    batch: number;
    size: number;
    styleSize: number;
    lr: number;
    seed: number;
    content: string[];
    contentImages: number;
    styleImage: { file: string; sha256: string; width: number; height: number };
  };
  /** Averages over the last steps of training. */
  losses: { total: number; content: number; style: number; tv: number };
  training: { backend: string; msPerStep: number; seconds: number; finishedAt: string; resumedAt?: number[] };
  params: number;
}

export interface StoredStyle {
  manifest: StyleManifest;
  params: Record<string, Float32Array>;
  dir: string;
}

/** Atomically writes a style folder: model.json, weights.bin, style.json (and extra files given). */
export function saveStyle(
  dir: string,
  manifest: StyleManifest,
  params: Record<string, Float32Array>,
  extra: Record<string, Buffer> = {},
): void {
  mkdirSync(dir, { recursive: true });
  const { json, weights } = styleGraph(manifest.arch, params);
  const write = (name: string, data: string | Buffer) => {
    const tmp = join(dir, `.${name}.tmp`);
    writeFileSync(tmp, data);
    renameSync(tmp, join(dir, name));
  };
  write('weights.bin', weights);
  write('model.json', `${JSON.stringify(json)}\n`);
  for (const [name, data] of Object.entries(extra)) write(name, data);
  write('style.json', `${JSON.stringify(manifest, null, 2)}\n`);
}

/** Reads and validates a style folder; errors name the folder and what is wrong. */
export function loadStyleDir(dir: string): StoredStyle {
  const read = (name: string) => {
    const f = join(dir, name);
    if (!existsSync(f)) throw new Error(`style ${dir}: ${name} is missing`);
    return readFileSync(f);
  };
  let manifest: StyleManifest;
  let json: GraphModelJson;
  try {
    manifest = JSON.parse(read('style.json').toString('utf8')) as StyleManifest;
  } catch (e) {
    throw new Error(`style ${dir}: style.json is not valid JSON (${(e as Error).message})`);
  }
  try {
    json = JSON.parse(read('model.json').toString('utf8')) as GraphModelJson;
  } catch (e) {
    throw new Error(`style ${dir}: model.json is not valid JSON (${(e as Error).message})`);
  }
  const arch = manifest.arch ?? STYLE_ARCHS[manifest.archName];
  if (!arch || !Array.isArray(arch.channels)) throw new Error(`style ${dir}: style.json has no architecture`);
  const file = json.weightsManifest?.[0]?.paths?.[0];
  if (!file) throw new Error(`style ${dir}: model.json lists no weights file`);
  try {
    const params = paramsFromGraph(arch, json, read(file));
    return { manifest: { ...manifest, arch }, params, dir };
  } catch (e) {
    throw new Error(`style ${dir}: ${(e as Error).message}`);
  }
}

/** Style folders (those with a style.json) under the given roots; the first root wins on a name clash. */
export function listStyles(roots: string[] = [STYLES_DIR]): Map<string, string> {
  const out = new Map<string, string>();
  for (const root of roots) {
    if (!existsSync(root)) continue;
    for (const name of readdirSync(root).sort()) {
      if (!STYLE_NAME.test(name) || out.has(name)) continue;
      if (existsSync(join(root, name, 'style.json'))) out.set(name, join(root, name));
    }
  }
  return out;
}
