/**
 * alert: turns the recognize stage's decisions into alerts: watched people (and unknown tracks once
 * two good looks matched nobody; uncertain tracks never alert), once per track and per person and camera within the cooldown. Each alert is
 * stored with a snapshot, counted, and handed to the alert sinks (viewers, webhooks, MQTT:
 * src/output/sinks/), which deliver it after this returns.
 */
import { Observable } from 'rxjs';
import { z } from 'zod';
import { AlertRules, type AlertStore, type FaceAlert, type NewAlertFields } from '../../faces/alerts.js';
import { faceSnapshot, type SnapshotFace } from '../../faces/snapshot.js';
import { type Frame, faceSource } from '../../sources/frame.js';
import type { FrameContext, Recognition } from '../context.js';
import { registerStage, type StageContext, service } from '../stage.js';

export const AlertSchema = z
  .object({
    persons: z
      .union([z.literal('all'), z.array(z.string().min(1))])
      .default('all')
      .describe('"all" enrolled people, or a list of names to watch.'),
    unknown: z.boolean().default(true).describe('Alert on faces nobody enrolled too.'),
    cooldownSeconds: z
      .number()
      .min(0)
      .default(60)
      .describe('Once per track, and per person and camera, within this time.'),
    unknownLooks: z
      .number()
      .int()
      .min(1)
      .max(20)
      .default(2)
      .describe(
        'Good looks of a track that must match nobody clearly (no near miss) before it alerts as unknown, on top of recognize.unknownLooks (one bad angle is not a stranger).',
      ),
    snapshotPx: z
      .number()
      .int()
      .min(64)
      .max(1024)
      .default(256)
      .describe('Longer side of the stored face snapshot (pixels).'),
    snapshotMargin: z
      .number()
      .min(0.3)
      .max(2)
      .default(0.5)
      .describe(
        'Room around the face in the snapshot, per side, as a fraction of the face box (0.5: twice the face; at least 0.3 so the crop the embedder takes fits).',
      ),
  })
  .strict();
export type AlertStageConfig = z.output<typeof AlertSchema>;

declare module '../stage.js' {
  interface StageConfigMap {
    alert: AlertStageConfig;
  }
}

/** An alert the stage raises: what is stored, with what the cluster needs to deduplicate it. */
export interface RaisedAlert {
  fields: NewAlertFields;
  snapshot: Buffer | undefined;
  face: SnapshotFace | undefined;
  /** The stage's cooldown (the same rule across nodes in cluster mode). */
  cooldownSeconds: number;
  /** The face's embedding (unit length): the same stranger seen again is the same alert. */
  embedding: Float32Array;
}

/**
 * Where alerts go (service "alerts"), never blocking: stored, then handed to the sinks (one node:
 * `storeThenPublish`); on a cluster node, through the cluster's event stream (src/cluster/).
 */
export interface AlertSinks {
  raise(alert: RaisedAlert): void;
}

/** The single node's alert path: the store, then the sinks' fan-out. */
export function storeThenPublish(
  store: AlertStore,
  publish: (alert: FaceAlert, snapshot?: Buffer) => void,
): AlertSinks {
  return { raise: (a) => publish(store.add(a.fields, a.snapshot, a.face), a.snapshot) };
}

class Alerter {
  private readonly rules: AlertRules;
  private closed = false;

  constructor(
    private readonly cfg: AlertStageConfig,
    private readonly sinks: AlertSinks,
    private readonly ctx: StageContext,
  ) {
    this.rules = new AlertRules(cfg);
  }

  /** Fires what the decisions of one frame call for; the frame is retained while snapshots are cut. */
  onRecognitions(c: FrameContext): void {
    for (const r of c.recognitions) {
      // an uncertain track (near misses, poor looks) is shown, never alerted
      if (r.outcome === 'uncertain') continue;
      if (r.personId === null && r.unknownLooks < this.cfg.unknownLooks) continue;
      if (!this.rules.shouldFire(c.stream, r.trackId, r.label, Date.now())) continue;
      const frame = c.frame.retain();
      this.fire(c.stream, frame, r).finally(() => frame.release());
    }
  }

  private async fire(stream: string, frame: Frame, r: Recognition): Promise<void> {
    let snapshot: Buffer | undefined;
    let face: SnapshotFace | undefined;
    try {
      // with where the face is in it: enrolling from the alert embeds that face, no second detection;
      // cut from the full-resolution picture where the frame has one (streams[].embedFrom)
      const src = faceSource(frame, { box: r.box, landmarks: r.landmarks });
      ({ jpeg: snapshot, face } = await faceSnapshot(src.image, src.face, {
        size: this.cfg.snapshotPx,
        margin: this.cfg.snapshotMargin,
      }));
    } catch (e) {
      this.ctx.log.warn(`snapshot failed: ${(e as Error).message}`);
    }
    if (this.closed) return; // shutting down: the alert store may be closed already
    this.sinks.raise({
      fields: {
        camera: stream,
        sub_label: r.label,
        person_id: r.personId,
        score: r.similarity,
        track_id: r.trackId,
        start_time: frame.captureTs / 1000,
      },
      snapshot,
      face,
      cooldownSeconds: this.cfg.cooldownSeconds,
      embedding: r.embedding,
    });
    this.ctx.metrics.alerts.inc({ stream, kind: r.personId === null ? 'unknown' : 'known' });
  }

  close(): void {
    this.closed = true;
  }
}

function alertOperator(alerter: Alerter) {
  return (source: Observable<FrameContext>) =>
    new Observable<FrameContext>((sub) =>
      source.subscribe({
        next: (c) => {
          if (c.recognitions.length) alerter.onRecognitions(c);
          sub.next(c);
        },
        error: (e) => sub.error(e),
        complete: () => sub.complete(),
      }),
    );
}

registerStage({
  kind: 'alert',
  summary: 'Raises alerts for watched people and unknown faces (stored, then viewers, webhooks, MQTT)',
  phase: 'analyze',
  schema: AlertSchema,
  create: (cfg, ctx) => {
    const alerter = new Alerter(cfg, service<AlertSinks>(ctx, 'alerts', 'alert'), ctx);
    return { operator: alertOperator(alerter), close: () => alerter.close() };
  },
});
