/**
 * The alert path of a cluster node (docs/cluster.md, "Alerts"): the alert stage raises an alert
 * here instead of storing it; it becomes an event on the JetStream stream (events-stream.ts), is
 * stored in PostgreSQL once, deduplicated cluster-wide (a camera that moved to another node
 * mid-appearance does not announce the same person twice), and delivered by one node to the
 * webhooks and MQTT, exactly once. That node then tells every node (`vigil.alerts.live`, core
 * NATS): each keeps its own copy (its SQLite alert history, with the snapshot, under the event id)
 * and shows it to its viewers, so any node's page and API have the cluster's alerts.
 * An alert raised by a node that no longer holds the camera's lease (woken from a pause, cut off)
 * is dropped: fencing.
 */
import { randomUUID } from 'node:crypto';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type pg from 'pg';
import type { ClusterConfig } from '../config/schema.js';
import { AlertPayload, ClusterEvent } from '../defs/cluster.js';
import type { AlertStore, FaceAlert } from '../faces/alerts.js';
import { SnapshotFaceSchema } from '../faces/snapshot.js';
import type { Logger } from '../log.js';
import type { AlertSinks, RaisedAlert } from '../pipeline/stages/alert.js';
import { EventPublisher, EventStore, ensureEventsStream, migrateEvents } from './events-stream.js';

/** Where every node hears of each delivered alert (after dedupe), once. */
export const LIVE_ALERTS_SUBJECT = 'vigil.alerts.live';

/** What the alert path needs to know of the camera leases (leases.ts). */
export interface LeaseView {
  holds(camera: string): boolean;
  running(): ReadonlyMap<string, number>;
}

export interface ClusterAlertsOptions {
  config: ClusterConfig;
  nats: NatsConnection;
  pool: pg.Pool;
  /** This node's alert history. */
  store: AlertStore;
  leases: LeaseView;
  /** The similarity at which two unknown faces are the same stranger (the match threshold). */
  sameStranger: number;
  /** The sinks delivered to once per alert in the cluster (webhooks, MQTT). */
  deliver: (alert: FaceAlert, snapshot?: Buffer) => void;
  /** This node's viewers. */
  show: (alert: FaceAlert, snapshot?: Buffer) => void;
  log: Logger;
}

export class ClusterAlerts implements AlertSinks {
  private readonly publisher: EventPublisher;
  private readonly consumer: EventStore;
  private live: Subscription | undefined;
  /** Alerts dropped because the camera's lease was gone when they were raised. */
  fenced = 0;

  private constructor(private readonly o: ClusterAlertsOptions) {
    this.publisher = new EventPublisher(o.nats, o.config.retry, o.log);
    this.consumer = new EventStore(o.nats, o.pool, o.config.node, (e) => this.delivered(e), o.log);
  }

  static async open(o: ClusterAlertsOptions): Promise<ClusterAlerts> {
    await ensureEventsStream(o.nats);
    await migrateEvents(o.pool);
    const alerts = new ClusterAlerts(o);
    alerts.follow();
    alerts.consumer.start();
    return alerts;
  }

  raise(a: RaisedAlert): void {
    const { camera } = a.fields;
    const revision = this.o.leases.running().get(camera);
    if (revision === undefined || !this.o.leases.holds(camera)) {
      this.fenced++;
      this.o.log.warn(
        { camera, label: a.fields.sub_label },
        'alert dropped: this node no longer holds the camera',
      );
      return;
    }
    const unknown = a.fields.person_id === null;
    const payload: AlertPayload = {
      fields: a.fields,
      snapshot: a.snapshot?.toString('base64'),
      face: a.face,
    };
    this.publisher.publish({
      id: randomUUID(),
      kind: unknown ? 'unknown' : 'alert',
      camera,
      node: this.o.config.node,
      leaseRevision: revision,
      at: Date.now(),
      payload,
      dedupe: unknown
        ? {
            key: 'unknown',
            windowMs: a.cooldownSeconds * 1000,
            embedding: Buffer.from(
              a.embedding.buffer,
              a.embedding.byteOffset,
              a.embedding.byteLength,
            ).toString('base64'),
            minSimilarity: this.o.sameStranger,
          }
        : { key: `person:${a.fields.person_id}`, windowMs: a.cooldownSeconds * 1000 },
    });
  }

  /** Events raised here and not yet accepted by NATS. */
  get pending(): number {
    return this.publisher.pending;
  }

  /** The consumer group chose this node to deliver `e`: keep it, deliver it, tell every node. */
  private async delivered(e: ClusterEvent): Promise<void> {
    const kept = this.keep(e);
    if (!kept) return;
    this.o.deliver(kept.alert, kept.snapshot);
    this.o.show(kept.alert, kept.snapshot);
    this.o.nats.publish(LIVE_ALERTS_SUBJECT, JSON.stringify(e));
  }

  /** Every node's copy of every delivered alert (its own deliveries are kept already). */
  private follow(): void {
    this.live = this.o.nats.subscribe(LIVE_ALERTS_SUBJECT, {
      callback: (err, m) => {
        if (err) return;
        const parsed = ClusterEvent.safeParse(m.json());
        if (!parsed.success || this.o.store.byEvent(parsed.data.id)) return;
        const kept = this.keep(parsed.data);
        if (kept) this.o.show(kept.alert, kept.snapshot);
      },
    });
  }

  /** This node's copy of the event's alert, stored once by event id. */
  private keep(e: ClusterEvent): { alert: FaceAlert; snapshot?: Buffer } | undefined {
    const p = AlertPayload.safeParse(e.payload);
    if (!p.success) {
      this.o.log.error({ id: e.id, camera: e.camera }, 'cluster alert with a malformed payload dropped');
      return undefined;
    }
    const snapshot = p.data.snapshot ? Buffer.from(p.data.snapshot, 'base64') : undefined;
    const face = SnapshotFaceSchema.safeParse(p.data.face);
    const alert =
      this.o.store.byEvent(e.id) ??
      this.o.store.add(p.data.fields, snapshot, face.success ? face.data : undefined, {
        eventId: e.id,
        node: e.node,
      });
    return { alert, snapshot };
  }

  async stop(): Promise<void> {
    // alerts raised just before stopping still go out, if NATS takes them soon
    for (let t = 0; this.publisher.pending && t < 20; t++) await new Promise((r) => setTimeout(r, 100));
    this.publisher.stop();
    this.live?.unsubscribe();
    await this.consumer.stop();
  }
}
