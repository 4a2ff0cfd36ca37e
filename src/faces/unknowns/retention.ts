import type { ClusterIndex } from './clustering.js';
import type { UnknownRepository } from './repository.js';

/**
 * Retention: drops sightings older than `maxAgeMs`, then the oldest beyond `maxSightings` less
 * `room` (all spaces count), and recomputes the clusters they belonged to. Returns how many were
 * dropped.
 */
export function pruneSightings(
  repo: UnknownRepository,
  clusters: ClusterIndex,
  o: { now: number; maxAgeMs: number; maxSightings: number; room: number },
): number {
  const cutoff = o.now - o.maxAgeMs;
  const over = Math.max(0, repo.sightingCount() - o.maxSightings + o.room);
  const doomed = repo.expiredSightings(cutoff, over);
  if (!doomed.length) return 0;
  repo.deleteSightings(doomed.map((d) => d.id));
  for (const c of new Set(doomed.map((d) => d.clusterId))) clusters.recompute(c);
  return doomed.length;
}
