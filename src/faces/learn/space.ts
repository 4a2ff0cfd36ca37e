import { manifest } from '../../inference/model-loader.js';
import type { Gallery } from '../gallery/gallery.js';
import { readThreshold, spaceVersion } from '../thresholds.js';
import { applyHead, checkHeadBase, type Head, headSpace, loadHead } from './head.js';

/** The recognize stage's settings that shape the vectors (a `head` is optional: recognize.head). */
export interface RecognitionSettings {
  model: string;
  align: boolean;
  context: number;
  threshold?: number;
  head?: string;
}

/**
 * The gallery space of a recognize configuration: with `head`, vectors pass through that trained
 * head, so the space version names it (base space + head name + weights digest), the dimension is the
 * head's output and the default threshold is the head's own (FAR 1% on its training pairs); without,
 * the model's space and its calibrated threshold (models/thresholds.yaml).
 */
export function recognitionSpace(rec: RecognitionSettings): {
  model: string;
  version: string;
  dim: number;
  threshold: number;
  head?: Head;
} {
  const base = spaceVersion(rec.align, rec.context);
  const baseDim = manifest(rec.model).dim ?? 0;
  if (!rec.head) {
    return {
      model: rec.model,
      version: base,
      dim: baseDim,
      threshold: rec.threshold ?? readThreshold(rec.model, base).similarity,
    };
  }
  const head = loadHead(rec.head);
  checkHeadBase(head, rec.model, base, baseDim || head.manifest.inDim);
  const t = rec.threshold ?? head.manifest.threshold?.similarity;
  if (t === undefined)
    throw new Error(`head ${head.manifest.name} has no threshold: set recognize.threshold in the pipeline`);
  return { model: rec.model, version: headSpace(head), dim: head.manifest.outDim, threshold: t, head };
}

/**
 * Re-embeds a gallery into a head's space without touching the images: every photo that lacks a
 * vector in the gallery's (head) space but has one in the head's base space gets applyHead(base).
 * Photos without a base vector are left for `vigil reembed` (images through the worker, which then
 * applies the head itself). `gallery` must be opened in the head's space (recognitionSpace).
 */
export function reembedThroughHead(
  gallery: Gallery,
  head: Head,
  progress?: (done: number, total: number) => void,
): { done: number; missing: number } {
  if (gallery.space.version !== headSpace(head) || gallery.space.dim !== head.manifest.outDim)
    throw new Error(
      `the gallery is in space ${gallery.space.version} (${gallery.space.dim}-d), not the head's ${headSpace(head)} (${head.manifest.outDim}-d)`,
    );
  const base = head.manifest.base;
  const get = gallery.db.prepare(
    'SELECT vector FROM embeddings WHERE photo_id = ? AND model = ? AND version = ?',
  );
  const todo = gallery.photosToEmbed();
  let done = 0;
  let missing = 0;
  for (const [i, p] of todo.entries()) {
    const row = get.get(p.id, base.model, base.space) as { vector: Buffer } | undefined;
    if (!row || row.vector.byteLength !== base.dim * 4) missing++;
    else {
      const v = new Float32Array(
        row.vector.buffer.slice(row.vector.byteOffset, row.vector.byteOffset + row.vector.byteLength),
      );
      gallery.setEmbedding(p.id, applyHead(head, [v])[0] as Float32Array);
      done++;
    }
    progress?.(i + 1, todo.length);
  }
  if (done) gallery.reembedDone();
  return { done, missing };
}
