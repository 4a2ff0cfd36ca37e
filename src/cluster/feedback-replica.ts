/**
 * A node's operator feedback in cluster mode: the ordinary feedback tables of its replica gallery
 * (src/faces/gallery/feedback.ts, so matching and the API work unchanged), kept as a replica of
 * PostgreSQL's (feedback-pg.ts).
 *   - An entry given here gets an id reserved from PostgreSQL's sequence (the same id on every
 *     node) and is queued in `cluster_feedback_outbox`, in the transaction that writes it; an
 *     undo or a re-embedding queues it again. The pusher (feedback-follow.ts) sends its state.
 *   - Entries from other nodes are mirrored in, their alert mapped from the cluster-wide event id
 *     to this node's own copy of that alert.
 */
import type Database from 'better-sqlite3';
import { GalleryError } from '../faces/gallery/errors.js';
import type { FeedbackRow } from '../faces/gallery/feedback.js';
import type { ClusterGallery } from './cluster-gallery.js';
import type { PgFeedbackEntry } from './feedback-pg.js';

/** Why an entry from PostgreSQL was not mirrored yet (its person or photo is not in this replica). */
export type MirrorResult = 'done' | 'person missing';

export class FeedbackReplica {
  private readonly ids: number[] = [];
  /** Called after an entry was queued (the pusher drains the outbox). */
  onQueued: () => void = () => undefined;
  /** Called when fewer than LOW ids are left. */
  onIdsLow: () => void = () => undefined;
  static readonly LOW = 16;
  constructor(
    readonly gallery: ClusterGallery,
    private readonly node: string,
  ) {
    gallery.feedbackHooks = { newId: () => this.takeId(), changed: (id) => this.queue(id) };
  }

  /** How many entries were given here before this node replicated feedback (local ids). */
  unreplicated(): number {
    const replicated = this.db
      .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'cluster_feedback_outbox'")
      .get();
    return replicated ? 0 : (this.db.prepare('SELECT COUNT(*) AS n FROM feedback').get() as { n: number }).n;
  }

  /**
   * Makes this replica's feedback replicated, once: the entries given before (local ids, which
   * may be other nodes' ids) take the cluster's `ids` (one each, reserved) and are queued. The
   * photo an old "correct" added had a local id too (never pushed): its link is dropped.
   */
  adopt(ids: number[]): void {
    this.db.transaction(() => {
      const old = this.unreplicated() ? this.localIds().sort((x, y) => x - y) : [];
      if (ids.length < old.length) throw new Error(`${old.length} ids needed, ${ids.length} given`);
      this.db.exec(
        'CREATE TABLE IF NOT EXISTS cluster_feedback_outbox (seq INTEGER PRIMARY KEY, feedback_id INTEGER NOT NULL, error TEXT)',
      );
      this.db.pragma('defer_foreign_keys = ON'); // children follow their entry within the transaction
      const move = (from: number, to: number) => {
        for (const t of ['feedback_faces', 'feedback_vectors'])
          this.db.prepare(`UPDATE ${t} SET feedback_id = ? WHERE feedback_id = ?`).run(to, from);
        this.db.prepare('UPDATE feedback SET id = ?, photo_id = NULL WHERE id = ?').run(to, from);
      };
      // through negative ids: a new id may be an old one of another entry
      for (const id of old) move(id, -id);
      old.forEach((id, i) => {
        move(-id, ids[i] as number);
        this.queue(ids[i] as number);
      });
    })();
  }

  private get db(): Database.Database {
    return this.gallery.db;
  }

  addIds(ids: number[]): void {
    this.ids.push(...ids);
  }

  idsLeft(): number {
    return this.ids.length;
  }

  private takeId(): number {
    const id = this.ids.shift();
    if (this.ids.length < FeedbackReplica.LOW) this.onIdsLow();
    if (id === undefined)
      throw new GalleryError(
        'the cluster cannot take feedback yet: no ids reserved from PostgreSQL (cluster.postgres unreachable since start-up)',
        503,
      );
    return id;
  }

  private queue(feedbackId: number): void {
    this.db.prepare('INSERT INTO cluster_feedback_outbox (feedback_id) VALUES (?)').run(feedbackId);
    this.onQueued();
  }

  /** Entries with local changes not yet in PostgreSQL (a notice must not overwrite them). */
  pending(): Set<number> {
    const rows = this.db
      .prepare('SELECT DISTINCT feedback_id AS id FROM cluster_feedback_outbox')
      .all() as Array<{
      id: number;
    }>;
    return new Set(rows.map((r) => r.id));
  }

  nextQueued(): { seq: number; id: number } | undefined {
    return this.db
      .prepare(
        'SELECT seq, feedback_id AS id FROM cluster_feedback_outbox WHERE error IS NULL ORDER BY seq LIMIT 1',
      )
      .get() as { seq: number; id: number } | undefined;
  }

  /** Done with a queued change (pushed, or refused with `error`, kept for the operator). */
  dequeue(seq: number, error?: string): void {
    if (error) this.db.prepare('UPDATE cluster_feedback_outbox SET error = ? WHERE seq = ?').run(error, seq);
    else this.db.prepare('DELETE FROM cluster_feedback_outbox WHERE seq = ?').run(seq);
  }

  /** An entry as PostgreSQL stores it (its alert by event id), or undefined once undone here. */
  local(id: number): PgFeedbackEntry | undefined {
    const r = this.db
      .prepare(
        'SELECT id, verdict, alert_id, person_id, camera, photo_id, note, created_at FROM feedback WHERE id = ?',
      )
      .get(id) as FeedbackRow | undefined;
    if (!r) return undefined;
    const face = this.db
      .prepare('SELECT image, box, landmarks FROM feedback_faces WHERE feedback_id = ?')
      .get(id) as { image: Buffer; box: string; landmarks: string } | undefined;
    const vectors = this.db
      .prepare('SELECT model, version, dim, vector FROM feedback_vectors WHERE feedback_id = ?')
      .all(id) as PgFeedbackEntry['vectors'];
    return {
      id: r.id,
      verdict: r.verdict,
      eventId: r.alert_id === null ? null : this.eventOf(r.alert_id),
      personId: r.person_id,
      camera: r.camera,
      photoId: r.photo_id,
      note: r.note,
      createdAt: r.created_at,
      node: this.node,
      face: face
        ? { image: face.image, box: JSON.parse(face.box), landmarks: JSON.parse(face.landmarks) }
        : null,
      vectors,
    };
  }

  private hasAlerts(): boolean {
    return !!this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alerts'").get();
  }

  private eventOf(alertId: number): string | null {
    if (!this.hasAlerts()) return null;
    const r = this.db.prepare('SELECT event_id FROM alerts WHERE id = ?').get(alertId) as
      | { event_id: string | null }
      | undefined;
    return r?.event_id ?? null;
  }

  /** This node's copy of a cluster alert (null: it has none, e.g. it was down when it was raised). */
  private alertOf(eventId: string | null): number | null {
    if (eventId === null || !this.hasAlerts()) return null;
    const r = this.db.prepare('SELECT id FROM alerts WHERE event_id = ?').get(eventId) as
      | { id: number }
      | undefined;
    return r?.id ?? null;
  }

  private has(table: 'people' | 'photos', id: number): boolean {
    return !!this.db.prepare(`SELECT 1 FROM ${table} WHERE id = ?`).get(id);
  }

  /**
   * Applies PostgreSQL's state of entry `id` (undefined: undone there), unless its person or the
   * photo a "correct" added (both come with the gallery, gallery-follow.ts) is not here yet.
   */
  mirror(id: number, e: PgFeedbackEntry | undefined): MirrorResult {
    if (e?.personId != null && !this.has('people', e.personId)) return 'person missing';
    if (e?.photoId != null && !this.has('photos', e.photoId)) return 'person missing';
    this.db.transaction(() => {
      if (!e) {
        this.db.prepare('DELETE FROM feedback WHERE id = ?').run(id);
        return;
      }
      this.db
        .prepare(
          `INSERT INTO feedback (id, verdict, alert_id, person_id, camera, photo_id, note, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET
           alert_id = excluded.alert_id, photo_id = excluded.photo_id, note = excluded.note`,
        )
        .run(e.id, e.verdict, this.alertOf(e.eventId), e.personId, e.camera, e.photoId, e.note, e.createdAt);
      if (e.face)
        this.db
          .prepare(
            'INSERT OR IGNORE INTO feedback_faces (feedback_id, image, box, landmarks) VALUES (?, ?, ?, ?)',
          )
          .run(e.id, e.face.image, JSON.stringify(e.face.box), JSON.stringify(e.face.landmarks));
      for (const v of e.vectors)
        this.db
          .prepare(
            'INSERT OR REPLACE INTO feedback_vectors (feedback_id, model, version, dim, vector) VALUES (?, ?, ?, ?, ?)',
          )
          .run(e.id, v.model, v.version, v.dim, v.vector);
    })();
    return 'done';
  }

  /** Ids of every entry held here. */
  localIds(): number[] {
    return (this.db.prepare('SELECT id FROM feedback').all() as Array<{ id: number }>).map((r) => r.id);
  }
}
