/**
 * The cluster's gallery in PostgreSQL: people, photos and their embeddings (bytea of float32, with
 * the model space they belong to), one source of truth for every node. Every write goes through a
 * trigger that appends the person's id to `gallery_changes` and NOTIFYs `vigil_gallery`, so a node
 * follows by sequence number: it reloads only the people changed since the last sequence it saw
 * (gallery-follow.ts), and after a lost connection it catches up from that sequence, so a change
 * made while it was away is never missed.
 * Ids come from PostgreSQL's sequences, so a person has the same id on every node.
 */
import type pg from 'pg';
import { inTx } from './pg-tx.js';

export const GALLERY_CHANNEL = 'vigil_gallery';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS people (
  id bigserial PRIMARY KEY,
  name text NOT NULL,
  name_key text NOT NULL UNIQUE,
  created_at bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS photos (
  id bigserial PRIMARY KEY,
  person_id bigint NOT NULL REFERENCES people(id) ON DELETE CASCADE,
  image bytea NOT NULL,
  thumbnail bytea NOT NULL,
  box jsonb NOT NULL,
  landmarks jsonb NOT NULL,
  created_at bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS photos_person ON photos(person_id);
CREATE TABLE IF NOT EXISTS embeddings (
  photo_id bigint NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
  person_id bigint NOT NULL,
  model text NOT NULL,
  version text NOT NULL,
  dim integer NOT NULL,
  vector bytea NOT NULL,
  created_at bigint NOT NULL,
  PRIMARY KEY (photo_id, model, version)
);
CREATE TABLE IF NOT EXISTS gallery_changes (
  seq bigserial PRIMARY KEY,
  person_id bigint NOT NULL,
  at timestamptz NOT NULL DEFAULT now()
);
CREATE OR REPLACE FUNCTION vigil_gallery_changed() RETURNS trigger AS $$
DECLARE pid bigint; s bigint;
BEGIN
  IF TG_TABLE_NAME = 'people' THEN pid := COALESCE(NEW.id, OLD.id);
  ELSE pid := COALESCE(NEW.person_id, OLD.person_id);
  END IF;
  INSERT INTO gallery_changes (person_id) VALUES (pid) RETURNING seq INTO s;
  PERFORM pg_notify('${GALLERY_CHANNEL}', s::text);
  RETURN NULL;
END $$ LANGUAGE plpgsql;
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'people_changed') THEN
    CREATE TRIGGER people_changed AFTER INSERT OR UPDATE OR DELETE ON people
      FOR EACH ROW EXECUTE FUNCTION vigil_gallery_changed();
    CREATE TRIGGER photos_changed AFTER INSERT OR UPDATE OR DELETE ON photos
      FOR EACH ROW EXECUTE FUNCTION vigil_gallery_changed();
    CREATE TRIGGER embeddings_changed AFTER INSERT OR UPDATE OR DELETE ON embeddings
      FOR EACH ROW EXECUTE FUNCTION vigil_gallery_changed();
  END IF;
END $$;
`;

/** Creates the tables once per database (nodes starting together serialise on an advisory lock). */
export async function migrateGallery(pool: pg.Pool): Promise<void> {
  await inTx(pool, (c) => c.query(SCHEMA).then(() => undefined), 'vigil_gallery_schema');
}

export interface PgPhoto {
  id: number;
  image: Buffer;
  thumbnail: Buffer;
  box: [number, number, number, number];
  landmarks: Array<[number, number]>;
  createdAt: number;
  embeddings: Array<{ model: string; version: string; dim: number; vector: Buffer }>;
}

export interface PgPerson {
  id: number;
  name: string;
  nameKey: string;
  createdAt: number;
  photos: PgPhoto[];
}

export interface NewPhoto {
  image: Buffer;
  thumbnail: Buffer;
  box: [number, number, number, number];
  landmarks: Array<[number, number]>;
  /** Embeddings with their space; `vector` is float32 little-endian. */
  embeddings: Array<{ model: string; version: string; dim: number; vector: Buffer }>;
}

export class PgGallery {
  constructor(readonly pool: pg.Pool) {}

  /** `count` fresh ids of `table` (people or photos), reserved for writes made on a node first. */
  async reserveIds(table: 'people' | 'photos', count: number): Promise<number[]> {
    const r = await this.pool.query<{ id: string }>(
      `SELECT nextval(pg_get_serial_sequence('${table}', 'id')) AS id FROM generate_series(1, $1)`,
      [count],
    );
    return r.rows.map((row) => Number(row.id));
  }

  /**
   * Writes a person as a node holds it (ids included): inserted, or replaced with these photos.
   * Idempotent, so a node's outbox may push it again after a lost connection.
   */
  async upsertPerson(
    p: { id: number; name: string; nameKey: string; createdAt: number },
    photos: Array<NewPhoto & { id: number; createdAt: number }>,
  ): Promise<void> {
    await inTx(this.pool, async (c) => {
      await c.query(
        `INSERT INTO people (id, name, name_key, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, name_key = EXCLUDED.name_key`,
        [p.id, p.name, p.nameKey, p.createdAt],
      );
      for (const ph of photos) await insertPhoto(c, p.id, ph);
    });
  }

  async rename(id: number, name: string, nameKey: string): Promise<void> {
    await this.pool.query('UPDATE people SET name = $2, name_key = $3 WHERE id = $1', [id, name, nameKey]);
  }

  async deletePerson(id: number): Promise<void> {
    await this.pool.query('DELETE FROM people WHERE id = $1', [id]);
  }

  /** The newest change sequence (a follower starting from scratch loads everything up to it). */
  async lastSeq(): Promise<number> {
    const r = await this.pool.query<{ s: string | null }>('SELECT max(seq) AS s FROM gallery_changes');
    return Number(r.rows[0]?.s ?? 0);
  }

  /** The changes after `seq` (sequence number and person), oldest first. */
  async changesAfter(seq: number): Promise<Array<{ seq: number; personId: number }>> {
    const r = await this.pool.query<{ person_id: string; seq: string }>(
      'SELECT person_id, seq FROM gallery_changes WHERE seq > $1 ORDER BY seq',
      [seq],
    );
    return r.rows.map((row) => ({ seq: Number(row.seq), personId: Number(row.person_id) }));
  }

  async allPersonIds(): Promise<number[]> {
    const r = await this.pool.query<{ id: string }>('SELECT id FROM people ORDER BY id');
    return r.rows.map((row) => Number(row.id));
  }

  /** A person with photos and embeddings, or undefined when deleted. */
  async person(id: number): Promise<PgPerson | undefined> {
    const p = await this.pool.query('SELECT id, name, name_key, created_at FROM people WHERE id = $1', [id]);
    const row = p.rows[0];
    if (!row) return undefined;
    const photos = await this.pool.query(
      'SELECT id, image, thumbnail, box, landmarks, created_at FROM photos WHERE person_id = $1 ORDER BY id',
      [id],
    );
    const embs = await this.pool.query(
      'SELECT photo_id, model, version, dim, vector FROM embeddings WHERE person_id = $1',
      [id],
    );
    return {
      id: Number(row.id),
      name: row.name,
      nameKey: row.name_key,
      createdAt: Number(row.created_at),
      photos: photos.rows.map((ph) => ({
        id: Number(ph.id),
        image: ph.image,
        thumbnail: ph.thumbnail,
        box: ph.box,
        landmarks: ph.landmarks,
        createdAt: Number(ph.created_at),
        embeddings: embs.rows
          .filter((e) => Number(e.photo_id) === Number(ph.id))
          .map((e) => ({ model: e.model, version: e.version, dim: e.dim, vector: e.vector })),
      })),
    };
  }
}

async function insertPhoto(
  c: pg.PoolClient,
  personId: number,
  ph: NewPhoto & { id: number; createdAt: number },
): Promise<void> {
  await c.query(
    `INSERT INTO photos (id, person_id, image, thumbnail, box, landmarks, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING`,
    [
      ph.id,
      personId,
      ph.image,
      ph.thumbnail,
      JSON.stringify(ph.box),
      JSON.stringify(ph.landmarks),
      ph.createdAt,
    ],
  );
  for (const e of ph.embeddings)
    await c.query(
      `INSERT INTO embeddings (photo_id, person_id, model, version, dim, vector, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (photo_id, model, version) DO UPDATE SET vector = EXCLUDED.vector`,
      [ph.id, personId, e.model, e.version, e.dim, e.vector, ph.createdAt],
    );
}
