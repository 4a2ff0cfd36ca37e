import type Database from 'better-sqlite3';
import { ensureAutoincrement } from './gallery/migrate.js';
import { type SnapshotFace, SnapshotFaceSchema } from './snapshot.js';

/** A recognition event, stored and handed to the alert sinks (src/output/sinks/; Frigate-style fields). */
export interface FaceAlert {
  id: number;
  type: 'face';
  camera: string;
  /** The person's name, or "unknown". */
  sub_label: string;
  person_id: number | null;
  /** Cosine similarity of the match (for unknown faces: to the nearest enrolled person). */
  score: number;
  track_id: number;
  /** Seconds since the epoch, like Frigate's start_time. */
  start_time: number;
  has_snapshot: boolean;
  snapshot_url: string;
  /** Set when the face of this alert was enrolled (from its snapshot). */
  enrolled_person_id: number | null;
  /** Cluster mode: the alert's id across the cluster (every node's copy, webhooks, MQTT). */
  event_id?: string;
  /** Cluster mode: the node whose camera raised it. */
  node?: string;
}

/** A cluster alert's identity, kept with every node's copy of it. */
export interface ClusterOrigin {
  eventId: string;
  node: string;
}

/** What the alert stage says of a new alert; the store adds the id and the rest. */
export type NewAlertFields = Omit<
  FaceAlert,
  'id' | 'type' | 'has_snapshot' | 'snapshot_url' | 'enrolled_person_id'
>;

export interface AlertRule {
  /** "all" enrolled people, or a list of names to watch. */
  persons: 'all' | string[];
  /** Also alert on faces nobody enrolled. */
  unknown: boolean;
  /**
   * Within this many seconds: one alert per enrolled person and camera (a person whose track was
   * lost and found again is not announced twice), one per track for unknown faces.
   */
  cooldownSeconds: number;
}

/** Alert history in SQLite (the gallery's database), newest first, with paging. */
export class AlertStore {
  constructor(private readonly db: Database.Database) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS alerts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        time INTEGER NOT NULL,
        camera TEXT NOT NULL,
        label TEXT NOT NULL,
        person_id INTEGER,
        score REAL NOT NULL,
        track_id INTEGER NOT NULL,
        snapshot BLOB
      );
      CREATE INDEX IF NOT EXISTS alerts_time ON alerts(time);
    `);
    const cols = db.prepare('PRAGMA table_info(alerts)').all() as Array<{ name: string }>;
    if (!cols.some((c) => c.name === 'enrolled_person_id'))
      db.exec('ALTER TABLE alerts ADD COLUMN enrolled_person_id INTEGER');
    // Where the face is in the snapshot (JSON SnapshotFace); NULL for alerts stored before it was kept.
    if (!cols.some((c) => c.name === 'snapshot_face'))
      db.exec('ALTER TABLE alerts ADD COLUMN snapshot_face TEXT');
    // Cluster mode: every node keeps a copy of each alert under the cluster-wide event id.
    if (!cols.some((c) => c.name === 'event_id'))
      db.exec('ALTER TABLE alerts ADD COLUMN event_id TEXT; ALTER TABLE alerts ADD COLUMN node TEXT');
    db.exec('CREATE UNIQUE INDEX IF NOT EXISTS alerts_event ON alerts(event_id) WHERE event_id IS NOT NULL');
    // Alert ids are never reused (an emptied history restarted at 1): older databases are migrated.
    ensureAutoincrement(db, 'alerts');
  }

  add(
    a: NewAlertFields,
    snapshot: Buffer | undefined,
    face?: SnapshotFace,
    origin?: ClusterOrigin,
  ): FaceAlert {
    const id = Number(
      this.db
        .prepare(
          'INSERT INTO alerts (time, camera, label, person_id, score, track_id, snapshot, snapshot_face, event_id, node) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
        )
        .run(
          Math.round(a.start_time * 1000),
          a.camera,
          a.sub_label,
          a.person_id,
          a.score,
          a.track_id,
          snapshot ?? null,
          snapshot && face ? JSON.stringify(face) : null,
          origin?.eventId ?? null,
          origin?.node ?? null,
        ).lastInsertRowid,
    );
    return this.get(id) as FaceAlert;
  }

  /** Records that the face of an alert was enrolled as a person. */
  markEnrolled(id: number, personId: number): void {
    this.db.prepare('UPDATE alerts SET enrolled_person_id = ? WHERE id = ?').run(personId, id);
  }

  private row(r: {
    id: number;
    time: number;
    camera: string;
    label: string;
    person_id: number | null;
    score: number;
    track_id: number;
    enrolled_person_id: number | null;
    has: number;
    event_id?: string | null;
    node?: string | null;
  }): FaceAlert {
    const origin = r.event_id ? { event_id: r.event_id, node: r.node ?? '' } : {};
    return {
      ...origin,
      id: r.id,
      type: 'face',
      camera: r.camera,
      sub_label: r.label,
      person_id: r.person_id,
      score: r.score,
      track_id: r.track_id,
      start_time: r.time / 1000,
      has_snapshot: Boolean(r.has),
      snapshot_url: `/api/alerts/${r.id}/snapshot.jpg`,
      enrolled_person_id: r.enrolled_person_id ?? null,
    };
  }

  get(id: number): FaceAlert | undefined {
    const r = this.db
      .prepare(
        'SELECT id, time, camera, label, person_id, score, track_id, enrolled_person_id, event_id, node, snapshot IS NOT NULL AS has FROM alerts WHERE id = ?',
      )
      .get(id) as Parameters<AlertStore['row']>[0] | undefined;
    return r ? this.row(r) : undefined;
  }

  /** This node's copy of a cluster alert, if it has one. */
  byEvent(eventId: string): FaceAlert | undefined {
    const r = this.db.prepare('SELECT id FROM alerts WHERE event_id = ?').get(eventId) as
      | { id: number }
      | undefined;
    return r ? this.get(r.id) : undefined;
  }

  /** Newest first; `before` is an alert id for the next page. */
  list(
    opts: { before?: number; after?: number; limit?: number; camera?: string; label?: string } = {},
  ): FaceAlert[] {
    const limit = Math.min(Math.max(1, opts.limit ?? 50), 500);
    const where: string[] = [];
    const args: unknown[] = [];
    if (opts.after) {
      where.push('id > ?');
      args.push(opts.after);
    }
    if (opts.before) {
      where.push('id < ?');
      args.push(opts.before);
    }
    if (opts.camera) {
      where.push('camera = ?');
      args.push(opts.camera);
    }
    if (opts.label) {
      where.push('label = ?');
      args.push(opts.label);
    }
    const rows = this.db
      .prepare(
        `SELECT id, time, camera, label, person_id, score, track_id, enrolled_person_id, event_id, node, snapshot IS NOT NULL AS has FROM alerts
         ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`,
      )
      .all(...args, limit) as Array<Parameters<AlertStore['row']>[0]>;
    return rows.map((r) => this.row(r));
  }

  /**
   * Retention: drops snapshots older than `snapshotDays` and alerts older than `alertDays`
   * (0: keep). Returns how many snapshots and alerts were removed.
   */
  purge(
    opts: { snapshotDays: number; alertDays: number },
    now = Date.now(),
  ): { snapshots: number; alerts: number } {
    const day = 86_400_000;
    const snapshots =
      opts.snapshotDays > 0
        ? this.db
            .prepare(
              'UPDATE alerts SET snapshot = NULL, snapshot_face = NULL WHERE snapshot IS NOT NULL AND time < ?',
            )
            .run(now - opts.snapshotDays * day).changes
        : 0;
    const alerts =
      opts.alertDays > 0
        ? this.db.prepare('DELETE FROM alerts WHERE time < ?').run(now - opts.alertDays * day).changes
        : 0;
    return { snapshots, alerts };
  }

  snapshot(id: number): Buffer | undefined {
    const r = this.db.prepare('SELECT snapshot FROM alerts WHERE id = ?').get(id) as
      | { snapshot: Buffer | null }
      | undefined;
    return r?.snapshot ?? undefined;
  }

  /** The snapshot and where its face is (absent for alerts stored before positions were kept, or unreadable). */
  snapshotWithFace(id: number): { jpeg: Buffer; face?: SnapshotFace } | undefined {
    const r = this.db.prepare('SELECT snapshot, snapshot_face FROM alerts WHERE id = ?').get(id) as
      | { snapshot: Buffer | null; snapshot_face: string | null }
      | undefined;
    if (!r?.snapshot) return undefined;
    let face: SnapshotFace | undefined;
    try {
      const parsed = SnapshotFaceSchema.safeParse(JSON.parse(r.snapshot_face ?? 'null'));
      if (parsed.success) face = parsed.data;
    } catch {
      // not JSON: searched for in the snapshot like an old alert's face
    }
    return { jpeg: r.snapshot, face };
  }
}

/**
 * Decides whether a track's identity fires an alert now: once per track per cooldown, and for enrolled
 * people once per person and camera per cooldown as well.
 */
export class AlertRules {
  private fired = new Map<string, number>();
  constructor(readonly rule: AlertRule) {}

  shouldFire(camera: string, trackId: number, label: string, now: number): boolean {
    const watched =
      label === 'unknown'
        ? this.rule.unknown
        : this.rule.persons === 'all' || this.rule.persons.includes(label);
    if (!watched) return false;
    const cool = this.rule.cooldownSeconds * 1000;
    const trackKey = `${camera}\u0000#${trackId}\u0000${label}`;
    const personKey = label === 'unknown' ? undefined : `${camera}\u0000${label}`;
    for (const k of [trackKey, personKey]) {
      const last = k === undefined ? undefined : this.fired.get(k);
      if (last !== undefined && now - last < cool) return false;
    }
    this.fired.set(trackKey, now);
    if (personKey) this.fired.set(personKey, now);
    if (this.fired.size > 10_000)
      for (const [k, t] of this.fired) if (now - t > this.rule.cooldownSeconds * 1000) this.fired.delete(k);
    return true;
  }
}
