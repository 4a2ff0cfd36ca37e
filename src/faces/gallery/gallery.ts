import { mkdirSync } from 'node:fs';
import type { Person } from '../../defs/api.js';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { nameKey, personName } from '../person-name.js';
import { GalleryError } from './errors.js';
import { createFeedbackSchema, type FeedbackMatrix, loadFeedback } from './feedback.js';
import { ensureAutoincrement, ensureNameKeys } from './migrate.js';

export { GalleryError } from './errors.js';

/** The embedding space in use: vectors of different spaces are never compared. */
export interface EmbeddingSpace {
  model: string;
  /** Changes whenever anything that shapes the vectors changes (alignment, crop context). */
  version: string;
  dim: number;
}

export interface PhotoInput {
  /** The source image, re-encoded (JPEG), kept so the gallery can be re-embedded with another model. */
  image: Buffer;
  /** A small JPEG of the face. */
  thumbnail: Buffer;
  box: [number, number, number, number];
  landmarks: Array<[number, number]>;
  embedding: Float32Array;
}

export type { Person } from '../../defs/api.js';

export interface GalleryMatrix {
  /** Bumped on every change; workers report which version they matched against. */
  version: number;
  rows: number;
  dim: number;
  data: Float32Array;
  /** Person id of each row (a person may have several photos). */
  rowPerson: Int32Array;
  names: Map<number, string>;
  /** Operator feedback the decisions apply (negatives, ignored faces: feedback.ts). */
  feedback?: FeedbackMatrix;
}

/** Checks and normalises a person's name (src/faces/person-name.ts, one rule for every entry point). */
export const validName = personName;

/**
 * People and their face embeddings in SQLite (WAL). The embedding matrix of the current space is
 * kept in memory and rebuilt on every change, including changes made by another process (a CLI
 * enrolling while the service runs), detected through SQLite's data_version.
 */
export class Gallery {
  readonly db: Database.Database;
  private cache: GalleryMatrix | undefined;
  private version = 0;
  private dataVersion = -1;
  private listeners = new Set<(m: GalleryMatrix) => void>();
  private poller: NodeJS.Timeout | undefined;

  constructor(
    readonly file: string,
    readonly space: EmbeddingSpace,
  ) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file);
    try {
      this.createSchema();
    } catch (e) {
      this.db.close(); // a corrupt, read-only or full database: the caller says why
      throw e;
    }
  }

  private createSchema(): void {
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS people (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
        name_key TEXT,
        created_at INTEGER NOT NULL
      );
      CREATE TABLE IF NOT EXISTS photos (
        id INTEGER PRIMARY KEY,
        person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        image BLOB NOT NULL,
        thumbnail BLOB NOT NULL,
        box TEXT NOT NULL,
        landmarks TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS photos_person ON photos(person_id);
      CREATE TABLE IF NOT EXISTS embeddings (
        photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
        model TEXT NOT NULL,
        version TEXT NOT NULL,
        dim INTEGER NOT NULL,
        vector BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (photo_id, model, version)
      );
    `);
    // Databases made before person ids were AUTOINCREMENT: an id is never handed out twice, also
    // not one an alert still names.
    ensureAutoincrement(this.db, 'people', [
      { table: 'alerts', column: 'person_id' },
      { table: 'alerts', column: 'enrolled_person_id' },
    ]);
    ensureNameKeys(this.db, nameKey);
    createFeedbackSchema(this.db);
  }

  /** Calls `fn` with the new matrix after every change (also changes by other processes, polled). */
  onChange(fn: (m: GalleryMatrix) => void): () => void {
    this.listeners.add(fn);
    if (!this.poller) {
      this.dataVersion = this.db.pragma('data_version', { simple: true }) as number;
      this.poller = setInterval(() => {
        const v = this.db.pragma('data_version', { simple: true }) as number;
        if (v !== this.dataVersion) {
          this.dataVersion = v;
          this.changed();
        }
      }, 1000);
      this.poller.unref();
    }
    return () => this.listeners.delete(fn);
  }

  close(): void {
    clearInterval(this.poller);
    this.db.close();
  }

  private changed(): void {
    this.cache = undefined;
    const m = this.matrix();
    for (const l of this.listeners) l(m);
  }

  private checkEmbedding(e: Float32Array): void {
    if (e.length !== this.space.dim)
      throw new GalleryError(
        `embedding has ${e.length} values, the ${this.space.model} space has ${this.space.dim}`,
        500,
      );
  }

  /** Inserts photos with their embeddings; call inside a write transaction, then publish(). */
  insertPhotos(personId: number, photos: PhotoInput[]): number[] {
    const ins = this.db.prepare(
      'INSERT INTO photos (person_id, image, thumbnail, box, landmarks, created_at) VALUES (?, ?, ?, ?, ?, ?)',
    );
    const emb = this.db.prepare(
      'INSERT INTO embeddings (photo_id, model, version, dim, vector, created_at) VALUES (?, ?, ?, ?, ?, ?)',
    );
    const now = Date.now();
    return photos.map((p) => {
      this.checkEmbedding(p.embedding);
      const id = Number(
        ins.run(personId, p.image, p.thumbnail, JSON.stringify(p.box), JSON.stringify(p.landmarks), now)
          .lastInsertRowid,
      );
      emb.run(
        id,
        this.space.model,
        this.space.version,
        this.space.dim,
        Buffer.from(p.embedding.buffer, p.embedding.byteOffset, p.embedding.byteLength),
        now,
      );
      return id;
    });
  }

  /** Enrolls a new person with one or more photos, all or nothing. */
  addPerson(name: string, photos: PhotoInput[]): Person {
    const n = validName(name);
    if (!photos.length) throw new GalleryError('at least one photo is required', 400);
    const tx = this.db.transaction(() => {
      this.assertNameFree(n);
      const id = Number(
        this.db
          .prepare('INSERT INTO people (name, name_key, created_at) VALUES (?, ?, ?)')
          .run(n, nameKey(n), Date.now()).lastInsertRowid,
      );
      this.insertPhotos(id, photos);
      return id;
    });
    const id = tx.immediate();
    this.changed();
    return this.person(id);
  }

  /** Adds photos to an enrolled person (several photos per person are used for matching). */
  addPhotos(personId: number, photos: PhotoInput[]): Person {
    this.person(personId);
    this.db.transaction(() => this.insertPhotos(personId, photos)).immediate();
    this.changed();
    return this.person(personId);
  }

  person(id: number): Person {
    if (!Number.isInteger(id) || id <= 0) throw new GalleryError(`invalid person id "${id}"`, 400);
    const p = this.db
      .prepare(
        `SELECT p.id, p.name, p.created_at AS createdAt, COUNT(ph.id) AS photos,
                COUNT(e.photo_id) AS embedded
         FROM people p LEFT JOIN photos ph ON ph.person_id = p.id
         LEFT JOIN embeddings e ON e.photo_id = ph.id AND e.model = ? AND e.version = ?
         WHERE p.id = ? GROUP BY p.id`,
      )
      .get(this.space.model, this.space.version, id) as Person | undefined;
    if (!p) throw new GalleryError(`no person with id ${id}`, 404);
    return p;
  }

  list(): Person[] {
    return this.db
      .prepare(
        `SELECT p.id, p.name, p.created_at AS createdAt, COUNT(ph.id) AS photos, COUNT(e.photo_id) AS embedded
         FROM people p LEFT JOIN photos ph ON ph.person_id = p.id
         LEFT JOIN embeddings e ON e.photo_id = ph.id AND e.model = ? AND e.version = ?
         GROUP BY p.id ORDER BY p.name COLLATE NOCASE`,
      )
      .all(this.space.model, this.space.version) as Person[];
  }

  /** The person of that name, compared as person-name.ts's nameKey (normalised, case-folded). */
  findByName(name: string): Person | undefined {
    const row = this.db
      .prepare('SELECT id FROM people WHERE name_key = ? ORDER BY id LIMIT 1')
      .get(nameKey(name)) as { id: number } | undefined;
    return row ? this.person(row.id) : undefined;
  }

  rename(id: number, name: string): Person {
    const n = validName(name);
    this.db
      .transaction(() => {
        this.person(id);
        this.assertNameFree(n, id);
        this.db.prepare('UPDATE people SET name = ?, name_key = ? WHERE id = ?').run(n, nameKey(n), id);
      })
      .immediate();
    this.changed();
    return this.person(id);
  }

  /**
   * Refuses a name someone else has (409), compared by nameKey: "José" (NFD) is "josé" (NFC) is
   * "JOSÉ". The message names the person who has it. Call inside the write transaction.
   */
  assertNameFree(name: string, exceptId = 0): void {
    const p = this.db
      .prepare('SELECT id, name FROM people WHERE name_key = ? AND id <> ? ORDER BY id LIMIT 1')
      .get(nameKey(name), exceptId) as { id: number; name: string } | undefined;
    if (!p) return;
    throw new GalleryError(
      p.name === name
        ? `a person named "${name}" already exists`
        : `a person named "${name}" already exists as "${p.name}" (id ${p.id})`,
      409,
    );
  }

  /** Deletes a person with their photos and embeddings; matching stops using them at once. */
  delete(id: number): void {
    this.person(id);
    this.db.prepare('DELETE FROM people WHERE id = ?').run(id);
    this.changed();
  }

  thumbnail(personId: number): Buffer {
    this.person(personId);
    const row = this.db
      .prepare('SELECT thumbnail FROM photos WHERE person_id = ? ORDER BY id LIMIT 1')
      .get(personId) as { thumbnail: Buffer } | undefined;
    if (!row) throw new GalleryError(`person ${personId} has no photo`, 404);
    return row.thumbnail;
  }

  /** Photos without an embedding in the current space (after a model change): re-embed them. */
  photosToEmbed(): Array<{ id: number; personId: number; image: Buffer }> {
    return this.db
      .prepare(
        `SELECT ph.id, ph.person_id AS personId, ph.image FROM photos ph
         WHERE NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.photo_id = ph.id AND e.model = ? AND e.version = ?)
         ORDER BY ph.id`,
      )
      .all(this.space.model, this.space.version) as Array<{ id: number; personId: number; image: Buffer }>;
  }

  /** Stores the current-space embedding of an existing photo (re-embedding). */
  setEmbedding(photoId: number, embedding: Float32Array): void {
    this.checkEmbedding(embedding);
    this.db
      .prepare(
        'INSERT OR REPLACE INTO embeddings (photo_id, model, version, dim, vector, created_at) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(
        photoId,
        this.space.model,
        this.space.version,
        this.space.dim,
        Buffer.from(embedding.buffer, embedding.byteOffset, embedding.byteLength),
        Date.now(),
      );
  }

  /** The id of a new feedback entry: undefined lets SQLite choose (a cluster replica reserves one). */
  newFeedbackId(): number | undefined {
    return undefined;
  }

  /** A feedback entry was written, re-embedded or undone (a cluster replica queues it; inside its transaction). */
  feedbackChanged(_feedbackId: number): void {}

  /** Publishes the new matrix after a change made through `db` (operator feedback). */
  publish(): void {
    this.changed();
  }

  /** Commits a batch of re-embeddings and publishes the new matrix. */
  reembedDone(): void {
    this.changed();
  }

  /** The embedding matrix of the current space, one row per photo (rows are L2-normalised). */
  matrix(): GalleryMatrix {
    if (this.cache) return this.cache;
    const rows = this.db
      .prepare(
        `SELECT ph.person_id AS personId, e.vector FROM embeddings e JOIN photos ph ON ph.id = e.photo_id
         WHERE e.model = ? AND e.version = ? ORDER BY ph.person_id, ph.id`,
      )
      .all(this.space.model, this.space.version) as Array<{ personId: number; vector: Buffer }>;
    const dim = this.space.dim;
    const data = new Float32Array(rows.length * dim);
    const rowPerson = new Int32Array(rows.length);
    rows.forEach((r, i) => {
      data.set(new Float32Array(r.vector.buffer, r.vector.byteOffset, dim), i * dim);
      rowPerson[i] = r.personId;
    });
    const names = new Map(
      (this.db.prepare('SELECT id, name FROM people').all() as Array<{ id: number; name: string }>).map(
        (p) => [p.id, p.name],
      ),
    );
    const feedback = loadFeedback(this.db, this.space);
    this.cache = { version: ++this.version, rows: rows.length, dim, data, rowPerson, names, feedback };
    return this.cache;
  }
}
