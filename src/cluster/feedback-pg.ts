/**
 * The cluster's operator feedback in PostgreSQL (src/faces/gallery/feedback.ts for what it means):
 * the entries, the face each negative or ignored entry was taken from, and its embeddings with
 * their model space. Same scheme as the gallery (gallery-pg.ts): ids from PostgreSQL's sequence
 * (reserved by the nodes, so an entry has the same id everywhere), a trigger that appends the
 * entry's id to `feedback_changes` and NOTIFYs `vigil_feedback`, followers by sequence number.
 * An entry names its alert by the cluster-wide `event_id` (every node has its own copy of an
 * alert, with its own local id), and its person and photo by the gallery's ids (cascading: a
 * person deleted takes their feedback along, on every node).
 */
import type pg from 'pg';
import type { Verdict } from '../faces/gallery/feedback.js';
import { inTx } from './pg-tx.js';

export const FEEDBACK_CHANNEL = 'vigil_feedback';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS feedback (
  id bigserial PRIMARY KEY,
  verdict text NOT NULL,
  event_id text,
  person_id bigint REFERENCES people(id) ON DELETE CASCADE,
  camera text,
  photo_id bigint REFERENCES photos(id) ON DELETE SET NULL,
  note text,
  created_at bigint NOT NULL,
  node text NOT NULL
);
CREATE TABLE IF NOT EXISTS feedback_faces (
  feedback_id bigint PRIMARY KEY REFERENCES feedback(id) ON DELETE CASCADE,
  image bytea NOT NULL,
  box jsonb NOT NULL,
  landmarks jsonb NOT NULL
);
CREATE TABLE IF NOT EXISTS feedback_vectors (
  feedback_id bigint NOT NULL REFERENCES feedback(id) ON DELETE CASCADE,
  model text NOT NULL,
  version text NOT NULL,
  dim integer NOT NULL,
  vector bytea NOT NULL,
  PRIMARY KEY (feedback_id, model, version)
);
CREATE TABLE IF NOT EXISTS feedback_changes (
  seq bigserial PRIMARY KEY,
  feedback_id bigint NOT NULL,
  at timestamptz NOT NULL DEFAULT now()
);
CREATE OR REPLACE FUNCTION vigil_feedback_changed() RETURNS trigger AS $$
DECLARE fid bigint; s bigint;
BEGIN
  IF TG_TABLE_NAME = 'feedback' THEN fid := COALESCE(NEW.id, OLD.id);
  ELSE fid := COALESCE(NEW.feedback_id, OLD.feedback_id);
  END IF;
  INSERT INTO feedback_changes (feedback_id) VALUES (fid) RETURNING seq INTO s;
  PERFORM pg_notify('${FEEDBACK_CHANNEL}', s::text);
  RETURN NULL;
END $$ LANGUAGE plpgsql;
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'feedback_changed') THEN
    CREATE TRIGGER feedback_changed AFTER INSERT OR UPDATE OR DELETE ON feedback
      FOR EACH ROW EXECUTE FUNCTION vigil_feedback_changed();
    CREATE TRIGGER feedback_faces_changed AFTER INSERT OR UPDATE OR DELETE ON feedback_faces
      FOR EACH ROW EXECUTE FUNCTION vigil_feedback_changed();
    CREATE TRIGGER feedback_vectors_changed AFTER INSERT OR UPDATE OR DELETE ON feedback_vectors
      FOR EACH ROW EXECUTE FUNCTION vigil_feedback_changed();
  END IF;
END $$;
`;

/** Creates the tables once per database, after the gallery's (they reference people and photos). */
export async function migrateFeedback(pool: pg.Pool): Promise<void> {
  await inTx(pool, (c) => c.query(SCHEMA).then(() => undefined), 'vigil_feedback_schema');
}

/** One feedback entry as the cluster stores it. */
export interface PgFeedbackEntry {
  id: number;
  verdict: Verdict;
  /** The alert it is about, by its cluster-wide id (null: not about an alert, or one without). */
  eventId: string | null;
  personId: number | null;
  camera: string | null;
  photoId: number | null;
  note: string | null;
  createdAt: number;
  /** The node it was given on. */
  node: string;
  face: { image: Buffer; box: [number, number, number, number]; landmarks: Array<[number, number]> } | null;
  /** `vector` is float32 little-endian. */
  vectors: Array<{ model: string; version: string; dim: number; vector: Buffer }>;
}

export class PgFeedback {
  constructor(readonly pool: pg.Pool) {}

  /** `count` fresh entry ids, reserved for entries given on a node first. */
  async reserveIds(count: number): Promise<number[]> {
    const r = await this.pool.query<{ id: string }>(
      "SELECT nextval(pg_get_serial_sequence('feedback', 'id')) AS id FROM generate_series(1, $1)",
      [count],
    );
    return r.rows.map((row) => Number(row.id));
  }

  /** Writes an entry as a node holds it; idempotent (an outbox may push it again). */
  async upsert(e: PgFeedbackEntry): Promise<void> {
    await inTx(this.pool, async (c) => {
      await c.query(
        `INSERT INTO feedback (id, verdict, event_id, person_id, camera, photo_id, note, created_at, node)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (id) DO UPDATE SET photo_id = EXCLUDED.photo_id, note = EXCLUDED.note`,
        [e.id, e.verdict, e.eventId, e.personId, e.camera, e.photoId, e.note, e.createdAt, e.node],
      );
      if (e.face)
        await c.query(
          `INSERT INTO feedback_faces (feedback_id, image, box, landmarks) VALUES ($1, $2, $3, $4)
           ON CONFLICT (feedback_id) DO NOTHING`,
          [e.id, e.face.image, JSON.stringify(e.face.box), JSON.stringify(e.face.landmarks)],
        );
      for (const v of e.vectors)
        await c.query(
          `INSERT INTO feedback_vectors (feedback_id, model, version, dim, vector) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (feedback_id, model, version) DO UPDATE SET dim = EXCLUDED.dim, vector = EXCLUDED.vector`,
          [e.id, v.model, v.version, v.dim, v.vector],
        );
    });
  }

  /** Undoes an entry: deletes it and the photo a "correct" added (the gallery's followers see that). */
  async delete(id: number): Promise<void> {
    await inTx(this.pool, async (c) => {
      await c.query(
        "DELETE FROM photos WHERE id = (SELECT photo_id FROM feedback WHERE id = $1 AND verdict = 'correct')",
        [id],
      );
      await c.query('DELETE FROM feedback WHERE id = $1', [id]);
    });
  }

  async lastSeq(): Promise<number> {
    const r = await this.pool.query<{ s: string | null }>('SELECT max(seq) AS s FROM feedback_changes');
    return Number(r.rows[0]?.s ?? 0);
  }

  /** The changes after `seq` (sequence number and entry), oldest first. */
  async changesAfter(seq: number): Promise<Array<{ seq: number; id: number }>> {
    const r = await this.pool.query<{ feedback_id: string; seq: string }>(
      'SELECT feedback_id, seq FROM feedback_changes WHERE seq > $1 ORDER BY seq',
      [seq],
    );
    return r.rows.map((row) => ({ seq: Number(row.seq), id: Number(row.feedback_id) }));
  }

  async allIds(): Promise<number[]> {
    const r = await this.pool.query<{ id: string }>('SELECT id FROM feedback ORDER BY id');
    return r.rows.map((row) => Number(row.id));
  }

  /** An entry with its face and vectors, or undefined when undone (or cascaded away). */
  async entry(id: number): Promise<PgFeedbackEntry | undefined> {
    const f = await this.pool.query(
      `SELECT f.id, f.verdict, f.event_id, f.person_id, f.camera, f.photo_id, f.note, f.created_at, f.node,
              ff.image, ff.box, ff.landmarks
       FROM feedback f LEFT JOIN feedback_faces ff ON ff.feedback_id = f.id WHERE f.id = $1`,
      [id],
    );
    const r = f.rows[0];
    if (!r) return undefined;
    const v = await this.pool.query(
      'SELECT model, version, dim, vector FROM feedback_vectors WHERE feedback_id = $1',
      [id],
    );
    const num = (x: string | null) => (x === null ? null : Number(x));
    return {
      id: Number(r.id),
      verdict: r.verdict,
      eventId: r.event_id,
      personId: num(r.person_id),
      camera: r.camera,
      photoId: num(r.photo_id),
      note: r.note,
      createdAt: Number(r.created_at),
      node: r.node,
      face: r.image ? { image: r.image, box: r.box, landmarks: r.landmarks } : null,
      vectors: v.rows.map((x) => ({ model: x.model, version: x.version, dim: x.dim, vector: x.vector })),
    };
  }
}
