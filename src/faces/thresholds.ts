import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml, stringify } from 'yaml';
import { PROJECT_ROOT } from '../util/paths.js';
import type { Threshold } from './match.js';

export const THRESHOLDS_FILE = join(PROJECT_ROOT, 'models', 'thresholds.yaml');

/** The embedding space of a model: what shapes its vectors besides the weights. */
export function spaceVersion(align: boolean, context: number): string {
  return `${align ? 'aligned' : 'box'}-${context}`;
}

type File = Record<string, Record<string, Threshold>>;

function read(file: string): File {
  return existsSync(file) ? ((parseYaml(readFileSync(file, 'utf8')) as File | null) ?? {}) : {};
}

/** The calibrated threshold of a model and space, or an error that says how to calibrate it. */
export function readThreshold(model: string, space: string, file = THRESHOLDS_FILE): Threshold {
  const t = read(file)[model]?.[space];
  if (!t) {
    throw new Error(
      `no calibrated threshold for model ${model} (${space}) in ${file}: run \`vigil eval faces --dir <labelled folders> --model ${model} --write-threshold\`, or set recognize.threshold in the pipeline`,
    );
  }
  return t;
}

export function writeThreshold(model: string, space: string, t: Threshold, file = THRESHOLDS_FILE): string {
  const all = read(file);
  all[model] = { ...all[model], [space]: t };
  writeFileSync(
    file,
    `# Decision thresholds per embedding model and space (cosine similarity), written by\n# \`vigil eval faces --write-threshold\`: the open-set operating point where at most 1% of\n# strangers (identities left out of the gallery) are taken for an enrolled person.\n${stringify(all)}`,
  );
  return file;
}
