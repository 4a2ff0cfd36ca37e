import { type Gallery, GalleryError, type Person, type PhotoInput } from '../gallery/gallery.js';
import { personName } from '../person-name.js';
import { diverseSubset } from './cluster.js';
import { f32, type UnknownRepository } from './repository.js';

/**
 * Enrolls a cluster's faces as a new person named `name` (or adds them to the person of that name
 * with `append`), each with its stored embedding and its snapshot as image and thumbnail; at most
 * `maxPhotos`, chosen to be varied. The caller removes the cluster afterwards.
 */
export function enrollCluster(
  repo: UnknownRepository,
  clusterId: number,
  name: string,
  gallery: Gallery,
  opts: { maxPhotos?: number; append?: boolean },
): { person: Person; photos: number; sightings: number } {
  const n = personName(name);
  const c = repo.requireCluster(clusterId);
  const g = gallery.space;
  if (c.model !== g.model || c.version !== g.version || c.dim !== g.dim)
    throw new GalleryError(
      `cluster ${clusterId} was embedded with ${c.model} (${c.version}), the gallery uses ${g.model} (${g.version}): its faces cannot be enrolled`,
      409,
    );
  const photos = variedPhotos(repo, clusterId, Math.max(1, opts.maxPhotos ?? 20));
  const existing = gallery.findByName(n);
  if (existing && !opts.append)
    throw new GalleryError(
      `a person named "${n}" already exists${existing.name === n ? '' : ` as "${existing.name}"`} (id ${existing.id}): add append=true to add these faces to them`,
      409,
    );
  const person = existing ? gallery.addPhotos(existing.id, photos) : gallery.addPerson(n, photos);
  return { person, photos: photos.length, sightings: c.count };
}

/** Up to `max` of the cluster's faces as gallery photos, chosen farthest-point for variety. */
function variedPhotos(repo: UnknownRepository, clusterId: number, max: number): PhotoInput[] {
  const rows = repo.enrollable(clusterId);
  if (!rows.length) throw new GalleryError(`cluster ${clusterId} has no face snapshots to enroll`, 409);
  const vectors = rows.map((r) => f32(r.embedding));
  return diverseSubset(vectors, max).map((i) => {
    const r = rows[i] as (typeof rows)[number];
    return {
      image: r.snapshot,
      thumbnail: r.snapshot,
      box: r.box ? (JSON.parse(r.box) as [number, number, number, number]) : [0, 0, 0, 0],
      landmarks: [],
      embedding: vectors[i] as Float32Array,
    };
  });
}
