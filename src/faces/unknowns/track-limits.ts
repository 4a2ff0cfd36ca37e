/**
 * Per-track rate and count limits on sightings (at most one every `minIntervalMs`, at most
 * `maxPerTrack` in all), in memory: a track is (camera, tracker id). The table is trimmed of tracks
 * idle longer than `forgetAfterMs` once it holds more than 10 000.
 */
export class TrackLimits {
  private tracks = new Map<string, { n: number; last: number }>();

  constructor(private readonly o: { maxPerTrack: number; minIntervalMs: number; forgetAfterMs: number }) {}

  /** Should a sighting of this track be kept at `now`? */
  wants(camera: string, trackId: number, now: number): boolean {
    const t = this.tracks.get(key(camera, trackId));
    return !t || (t.n < this.o.maxPerTrack && now - t.last >= this.o.minIntervalMs);
  }

  /** Has this track any sighting counted? */
  knows(camera: string, trackId: number): boolean {
    return this.tracks.has(key(camera, trackId));
  }

  /** Counts a sighting of this track at `now`. */
  note(camera: string, trackId: number, now: number): void {
    const k = key(camera, trackId);
    const t = this.tracks.get(k) ?? { n: 0, last: Number.NEGATIVE_INFINITY };
    t.n++;
    t.last = now;
    this.tracks.set(k, t);
    if (this.tracks.size > 10_000)
      for (const [tk, v] of this.tracks) if (now - v.last > this.o.forgetAfterMs) this.tracks.delete(tk);
  }
}

const key = (camera: string, trackId: number) => `${camera}\u0000${trackId}`;
