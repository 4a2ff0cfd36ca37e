import { type Gallery, GalleryError } from '../gallery/gallery.js';
import { dotF } from './cluster.js';
import { f32, sightingSnapshotUrl, type UnknownRepository } from './repository.js';
import type { Sighting } from './types.js';

/**
 * Retrospective search: stored sightings of the repository's space whose best similarity to any of
 * the person's photos is at or above `threshold`, newest first, at most `limit`. A gallery of
 * another dimension finds nothing; a person without embeddings in it is a 409.
 */
export function searchPerson(
  repo: UnknownRepository,
  personId: number,
  gallery: Gallery,
  opts: { threshold: number; limit: number },
): Array<Sighting & { similarity: number }> {
  gallery.person(personId);
  const m = gallery.matrix();
  if (m.dim !== repo.space.dim) return [];
  const photos: Float32Array[] = [];
  for (let r = 0; r < m.rows; r++)
    if (m.rowPerson[r] === personId) photos.push(m.data.subarray(r * m.dim, (r + 1) * m.dim));
  if (!photos.length)
    throw new GalleryError(
      `person ${personId} has no embedding in the current space: run vigil reembed`,
      409,
    );
  const hits: Array<Sighting & { similarity: number }> = [];
  for (const r of repo.sightingsWithEmbeddings()) {
    const e = f32(r.embedding);
    let best = Number.NEGATIVE_INFINITY;
    for (const p of photos) best = Math.max(best, dotF(e, p));
    if (best >= opts.threshold)
      hits.push({
        id: r.id,
        clusterId: r.clusterId,
        camera: r.camera,
        trackId: r.trackId,
        time: r.time,
        similarity: best,
        hasSnapshot: Boolean(r.has),
        snapshotUrl: sightingSnapshotUrl(r.id),
      });
  }
  return hits.slice(0, Math.max(1, opts.limit));
}
