import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Document, isMap, parseDocument } from 'yaml';
import { z } from 'zod';
import { PROJECT_ROOT } from '../util/paths.js';
import type { Threshold } from './match.js';

export const THRESHOLDS_FILE = join(PROJECT_ROOT, 'models', 'thresholds.yaml');

/** The embedding space of a model: what shapes its vectors besides the weights. */
export function spaceVersion(align: boolean, context: number): string {
  return `${align ? 'aligned' : 'box'}-${context}`;
}

/** One operating point as stored (models/thresholds.yaml): checked on every read. */
export const ThresholdSchema = z
  .object({
    similarity: z.number().min(-1).max(1),
    far: z.number().min(0).max(1),
    tar: z.number().min(0).max(1),
    measuredOn: z.array(z.string().min(1)).min(1),
    date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected YYYY-MM-DD'),
    /** Worst condition's stranger FAR per track, with the track rule calibrated with it (bench calibration). */
    farPerTrack: z.number().min(0).max(1).optional(),
    rule: z
      .object({
        nameLooks: z.number().int().min(1),
        minMargin: z.number().min(0).max(1),
        strongMargin: z.number().min(0).max(2),
      })
      .strict()
      .optional(),
  })
  .strict();

const FileSchema = z.record(z.string(), z.record(z.string(), ThresholdSchema));
type File = z.infer<typeof FileSchema>;

const HEADER = ` Decision thresholds per embedding model and space (cosine similarity): the open-set operating
 point where at most 1% of strangers (identities left out of the gallery) are taken for an enrolled
 person. Written by \`vigil eval faces --write-threshold\` or \`npm run bench -- calibration --write\`
 (docs/accuracy.md, "Open-set calibration").`;

function read(file: string): File {
  if (!existsSync(file)) return {};
  const raw = parseDocument(readFileSync(file, 'utf8')).toJS() ?? {};
  const r = FileSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new Error(`${file}: ${i?.path.join('.') || '(top)'}: ${i?.message}`);
  }
  return r.data;
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

/**
 * Stores one operating point; every other entry and every comment of the file stays. `comment`:
 * its provenance, written above the entry (replacing the one there).
 */
export function writeThreshold(
  model: string,
  space: string,
  t: Threshold,
  file = THRESHOLDS_FILE,
  comment?: string,
): string {
  const parsed = ThresholdSchema.safeParse(t);
  if (!parsed.success)
    throw new Error(
      `threshold for ${model} ${space}: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`,
    );
  read(file); // refuses to rewrite a file that does not validate
  const parsedDoc = existsSync(file) ? parseDocument(readFileSync(file, 'utf8')) : undefined;
  const doc = parsedDoc && isMap(parsedDoc.contents) ? parsedDoc : new Document({});
  if (!doc.hasIn([model])) doc.setIn([model], doc.createNode({}));
  doc.setIn([model, space], doc.createNode(parsed.data));
  const node = doc.getIn([model, space], true);
  if (comment && isMap(node)) node.commentBefore = comment.replace(/^/gm, ' ');
  doc.commentBefore = HEADER;
  // files written before the header moved to the document kept it on their first key
  const first = isMap(doc.contents) ? doc.contents.items[0]?.key : undefined;
  if (first && typeof first === 'object' && 'commentBefore' in first) {
    const c = (first as { commentBefore?: string | null }).commentBefore;
    if (c?.trimStart().startsWith('Decision thresholds'))
      (first as { commentBefore?: string | null }).commentBefore = null;
  }
  writeFileSync(file, doc.toString());
  return file;
}
