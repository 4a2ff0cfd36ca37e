import type { Detection } from '../inference/contract.js';
import type { InferenceHost } from '../inference/host.js';
import type { TrackOutcome, VigilMetrics } from '../metrics/metrics.js';
import { CrossStreamBatcher } from '../pipeline/batcher.js';
import type { Recognition, TrackedDetection } from '../pipeline/context.js';
import { type Frame, faceSource } from '../sources/frame.js';
import type { Gallery, GalleryMatrix } from './gallery/gallery.js';
import type { UnknownStore } from './unknowns/store.js';
import { identify } from './match.js';
import { type EvidenceRule, poorLook } from './outcome.js';
import { type EmbeddedFace, setGallery } from './tasks/index.js';
import { FaceTracker, quality, type Track, type TrackerOptions } from './track.js';

export interface RecognizerOptions {
  /** Decision threshold (cosine similarity), calibrated per model. */
  threshold: number;
  /** Faces narrower than this (frame pixels) are tracked but not recognised. */
  minFacePx: number;
  /** At most this many faces of one frame are embedded in one go (largest first). */
  maxFacesPerFrame: number;
  topK: number;
  tracker: TrackerOptions;
  /** When a look votes and when a track is named, unknown or uncertain (outcome.ts). */
  evidence: EvidenceRule;
  maxBatch: number;
  maxWaitMs: number;
}

/** How a track ended, for vigil_tracks_ended_total. */
const outcomeOf = (t: Track): TrackOutcome =>
  t.named ? 'named' : t.usableSince !== undefined ? 'unnamed' : 'too_small';

type EmbeddedFaces = EmbeddedFace[] & { galleryVersion: number | undefined };

interface EmbedJob {
  streamId: string;
  seq: number;
  frame: Frame;
  tracks: Track[];
  /** Why each track's look does not vote (its box and keypoints when embedded), or null: it does. */
  poor: Array<ReturnType<typeof poorLook>>;
}

/** The embedding side of the inference pool (the embed task and the gallery it matches against). */
export type Embedder = Pick<InferenceHost, 'idle' | 'whenIdle' | 'run' | 'configure' | 'backendOf'>;

export interface RecognizerDeps {
  host: Embedder;
  model: string;
  gallery: Gallery;
  /** Keeps unknown faces for clustering (optional). */
  unknowns?: UnknownStore;
  metrics: VigilMetrics;
  /**
   * Track decisions made on a frame; the frame is held only for this synchronous call (retain it
   * to keep it).
   */
  onRecognitions: (frame: Frame, recognitions: Recognition[]) => void;
  log?: (msg: string) => void;
}

/**
 * Live recognition for every stream (DeepStream's tracker + sgie): track faces (SORT-like), embed a
 * face once per track (and refresh it now and then, or when it got much better), match against the
 * gallery in the worker (one matrix product per batch) and vote the track's identity; each decision
 * goes out as a Recognition (the alert stage acts on them). Embedding requests of all streams are
 * batched like detection: one slot per stream, latest wins.
 */
export class Recognizer {
  private readonly trackers = new Map<string, FaceTracker>();
  private readonly galleries = new Map<number, GalleryMatrix>();
  private readonly batcher: CrossStreamBatcher<EmbedJob, EmbeddedFaces>;
  private unsubscribe: () => void;
  private closed = false;

  constructor(
    readonly deps: RecognizerDeps,
    readonly opts: RecognizerOptions,
  ) {
    const { host, metrics, model } = deps;
    this.batcher = new CrossStreamBatcher(
      {
        idle: () => host.idle,
        whenIdle: () => host.whenIdle(),
        run: async (jobs) => {
          // cut from the frame's full-resolution picture where it has one (streams[].embedFrom)
          const faces = jobs.flatMap((j, fi) =>
            j.tracks.map((t) => {
              const { face } = faceSource(j.frame, { box: t.box, landmarks: t.landmarks });
              return { frame: fi, box: face.box, landmarks: face.landmarks };
            }),
          );
          // whole pictures, shared with the worker (no copy): the faces are cut there
          const { result: r, ...run } = await host.run(
            'embed',
            jobs.map((j) => j.frame.full ?? j.frame),
            { faces, topK: opts.topK },
          );
          metrics.inferenceDuration.observe({ model, backend: host.backendOf(model).backend }, run.ms / 1000);
          metrics.workerTensors.set(run.tensors);
          metrics.batchSize.observe({ model }, faces.length);
          let k = 0;
          return jobs.map((j) => {
            const mine = r.faces.slice(k, k + j.tracks.length);
            k += j.tracks.length;
            return Object.assign(mine, { galleryVersion: r.galleryVersion });
          });
        },
      },
      {
        maxBatch: opts.maxBatch,
        maxWaitMs: opts.maxWaitMs,
        onDrop: (job, reason, err) => {
          for (const t of job.tracks) t.recognizing = false;
          job.frame.release();
          if (err && !this.closed) deps.log?.(`recognition failed on ${job.streamId}: ${err.message}`);
          if (reason === 'inference_error') metrics.drop(job.streamId, 'inference_error');
        },
      },
      (out) => {
        try {
          // after close() the stores are closed: a result still in flight is dropped quietly
          if (!this.closed) this.onEmbedded(out.frame, out.result);
        } catch (e) {
          deps.log?.(`recognition result failed on ${out.frame.streamId}: ${(e as Error).message}`);
        } finally {
          out.frame.frame.release();
        }
      },
    );
    const apply = (m: GalleryMatrix) => {
      this.galleries.set(m.version, m);
      for (const v of this.galleries.keys()) if (v < m.version - 4) this.galleries.delete(v);
      setGallery(host, m);
      metrics.galleryPeople.set(m.names.size);
      metrics.galleryEmbeddings.set(m.rows);
      // Someone was added, renamed or deleted: every track is recognised again against the new gallery.
      // A track not named yet could not be named before this change: its time to name starts now.
      const changedAt = Date.now();
      for (const t of this.trackers.values())
        for (const tr of t.active) {
          tr.votes = [];
          if (!tr.named && tr.usableSince !== undefined) tr.usableSince = Math.max(tr.usableSince, changedAt);
        }
    };
    apply(deps.gallery.matrix());
    this.unsubscribe = deps.gallery.onChange(apply);
  }

  /** Stops taking faces; resolves once the embeds in flight are done and their frames released. */
  close(): Promise<void> {
    this.closed = true;
    this.unsubscribe();
    this.batcher.close();
    return this.batcher.settled();
  }

  private tracker(stream: string): FaceTracker {
    let t = this.trackers.get(stream);
    if (!t) {
      const evidence = { threshold: this.opts.threshold, rule: this.opts.evidence };
      t = new FaceTracker({ ...this.opts.tracker, evidence });
      this.trackers.set(stream, t);
    }
    return t;
  }

  /** Called with each detection result (synchronously, while the frame is held); returns labelled detections. */
  onDetections(frame: Frame, dets: Detection[]): TrackedDetection[] {
    const tracker = this.tracker(frame.streamId);
    const now = frame.captureTs;
    const { assigned, ended } = tracker.update(dets, now);
    for (const t of ended)
      this.deps.metrics.tracksEnded.inc({ stream: frame.streamId, outcome: outcomeOf(t) });
    const usable = assigned.filter((t) => t.box[2] - t.box[0] >= this.opts.minFacePx);
    for (const t of usable) t.usableSince ??= now;
    const want = usable
      .filter((t) => tracker.needsRecognition(t, now))
      .sort((a, b) => quality(b) - quality(a))
      .slice(0, this.opts.maxFacesPerFrame);
    if (want.length) {
      for (const t of want) {
        t.recognizing = true;
        t.lastRecognizedAt = now;
      }
      const poor = want.map((t) => poorLook(t, this.opts.evidence));
      this.batcher.offer({
        streamId: frame.streamId,
        seq: frame.seq,
        frame: frame.retain(),
        tracks: want,
        poor,
      });
    }
    return dets.map((d, i) => {
      const t = assigned[i] as Track;
      const id = t.identity;
      return {
        ...d,
        trackId: t.id,
        label: id?.label,
        personId: id?.personId,
        similarity: id?.similarity,
        outcome: t.outcome,
      };
    });
  }

  private onEmbedded(job: EmbedJob, faces: EmbeddedFaces): void {
    const tracker = this.tracker(job.streamId);
    const g = faces.galleryVersion !== undefined ? this.galleries.get(faces.galleryVersion) : undefined;
    const { metrics } = this.deps;
    const decided: Recognition[] = [];
    const named: Track[] = [];
    for (const [i, t] of job.tracks.entries()) {
      t.recognizing = false;
      const f = faces[i];
      if (!f) continue;
      const look = { embedding: f.embedding, camera: job.streamId };
      const vote = g
        ? identify(f.rows, f.sims, g, this.opts.threshold, look)
        : { personId: null, label: 'unknown', similarity: 0 };
      // a poor look (small, turned) is embedded and shown, but does not vote (docs/accuracy.md)
      const good = job.poor[i] === null;
      if ('ignored' in vote && vote.ignored) {
        // an ignored face (a poster, a TV): shown as "ignored", never named, alerted or kept as unknown
        const ignored = { personId: null, label: 'ignored', similarity: vote.similarity, good };
        tracker.addVote(t, ignored, quality(t));
        continue;
      }
      metrics.recognitions.inc({
        stream: job.streamId,
        result: vote.personId === null ? 'unknown' : 'known',
      });
      if (f.sims.length)
        metrics.matchSimilarity.observe({ stream: job.streamId }, Math.max(0, f.sims[0] as number));
      // Someone else where the track's face was (a scene cut): a new track, named afresh.
      const outcome = outcomeOf(t);
      if (!tracker.continues(t, f.embedding, this.opts.threshold, job.frame.captureTs))
        metrics.tracksEnded.inc({ stream: job.streamId, outcome });
      const now = tracker.addVote(
        t,
        {
          personId: vote.personId,
          label: vote.label,
          similarity: vote.similarity,
          margin: vote.margin,
          good,
        },
        quality(t),
      );
      if (!now) continue;
      if (t.outcome === 'named' && !t.named) named.push(t);
      if (good && t.outcome !== 'named' && vote.personId === null) {
        // copies the face pixels synchronously and never rejects: the frame can go back to its pool
        const { image, face } = faceSource(job.frame, { box: t.box, landmarks: t.landmarks });
        void this.deps.unknowns?.offer({
          camera: job.streamId,
          trackId: t.id,
          time: job.frame.captureTs,
          embedding: f.embedding,
          image,
          box: face.box,
          similarity: vote.similarity,
        });
      }
      decided.push({
        trackId: t.id,
        box: t.box,
        landmarks: t.landmarks,
        label: now.label,
        personId: now.personId,
        similarity: now.similarity,
        outcome: t.outcome ?? 'uncertain',
        lookUnknown: vote.personId === null,
        unknownLooks: t.clearMisses ?? 0,
        embedding: f.embedding,
      });
    }
    if (decided.length) this.deps.onRecognitions(job.frame, decided);
    // published (handed to the alert stage) now: the wall clock, as the looks' capture times
    const publishedAt = Date.now();
    for (const t of named) {
      t.named = true;
      const since = t.usableSince ?? job.frame.captureTs;
      metrics.observeTimeToName(job.streamId, Math.max(0, publishedAt - since) / 1000);
    }
  }
}
