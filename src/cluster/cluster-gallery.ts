/**
 * A node's gallery in cluster mode: the ordinary SQLite Gallery (so matching, the API, alerts and
 * unknown faces work unchanged), kept as a replica of PostgreSQL's (gallery-pg.ts).
 *   - Writes made on this node (enrol, add photos, rename, delete) are applied locally at once,
 *     with ids reserved from PostgreSQL's sequences (the same id on every node), and queued in the
 *     local table `cluster_outbox`; the pusher (gallery-follow.ts) writes them to PostgreSQL and
 *     retries while it is away: an enrolment is never lost to a database restart.
 *   - Changes from other nodes arrive by NOTIFY and are mirrored in with `mirror`.
 * The replica is its own file, `<dataDir>/cluster-<node>.db`: the single-node gallery is untouched.
 */
import { GalleryError } from '../faces/gallery/errors.js';
import {
  Gallery,
  type EmbeddingSpace,
  type Person,
  type PhotoInput,
  validName,
} from '../faces/gallery/gallery.js';
import { nameKey } from '../faces/person-name.js';
import type { NewPhoto, PgPerson } from './gallery-pg.js';

export class ClusterGallery extends Gallery {
  private readonly ids = { people: [] as number[], photos: [] as number[] };
  /** Called after a local write was queued (the pusher drains the outbox). */
  onQueued: () => void = () => undefined;
  /** Called when fewer than LOW ids are left in a pool. */
  onIdsLow: (table: 'people' | 'photos') => void = () => undefined;
  static readonly LOW = 16;
  /** Feedback replication (feedback-replica.ts); absent, feedback stays on this node. */
  feedbackHooks: { newId: () => number; changed: (id: number) => void } | undefined;

  constructor(file: string, space: EmbeddingSpace) {
    super(file, space);
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS cluster_outbox (seq INTEGER PRIMARY KEY, person_id INTEGER NOT NULL, error TEXT)',
    );
  }

  addIds(table: 'people' | 'photos', ids: number[]): void {
    this.ids[table].push(...ids);
  }

  idsLeft(table: 'people' | 'photos'): number {
    return this.ids[table].length;
  }

  private takeId(table: 'people' | 'photos'): number {
    const id = this.ids[table].shift();
    if (this.ids[table].length < ClusterGallery.LOW) this.onIdsLow(table);
    if (id === undefined)
      throw new GalleryError(
        'the cluster gallery cannot enrol yet: no ids reserved from PostgreSQL (cluster.postgres unreachable since start-up)',
        503,
      );
    return id;
  }

  private queue(personId: number): void {
    this.db.prepare('INSERT INTO cluster_outbox (person_id) VALUES (?)').run(personId);
    this.onQueued();
  }

  /** People with local changes not yet in PostgreSQL (a NOTIFY must not overwrite them). */
  pending(): Set<number> {
    const rows = this.db.prepare('SELECT DISTINCT person_id AS id FROM cluster_outbox').all() as Array<{
      id: number;
    }>;
    return new Set(rows.map((r) => r.id));
  }

  /** The oldest queued change, or undefined. */
  nextQueued(): { seq: number; personId: number } | undefined {
    const r = this.db
      .prepare(
        'SELECT seq, person_id AS personId FROM cluster_outbox WHERE error IS NULL ORDER BY seq LIMIT 1',
      )
      .get() as { seq: number; personId: number } | undefined;
    return r;
  }

  /** Done with a queued change (pushed, or refused with `error`, kept for the operator). */
  dequeue(seq: number, error?: string): void {
    if (error) this.db.prepare('UPDATE cluster_outbox SET error = ? WHERE seq = ?').run(error, seq);
    else this.db.prepare('DELETE FROM cluster_outbox WHERE seq = ?').run(seq);
  }

  override newFeedbackId(): number | undefined {
    return this.feedbackHooks?.newId();
  }

  override feedbackChanged(feedbackId: number): void {
    this.feedbackHooks?.changed(feedbackId);
  }

  /** Photos added outside an enrolment (a "correct" verdict): reserved ids, queued like the others. */
  override insertPhotos(personId: number, photos: PhotoInput[]): number[] {
    const ids = this.insertWithIds(personId, photos);
    this.queue(personId);
    return ids;
  }

  private insertWithIds(personId: number, photos: PhotoInput[]): number[] {
    const ins = this.db.prepare(
      'INSERT INTO photos (id, person_id, image, thumbnail, box, landmarks, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    const emb = this.db.prepare(
      'INSERT INTO embeddings (photo_id, model, version, dim, vector, created_at) VALUES (?, ?, ?, ?, ?, ?)',
    );
    const now = Date.now();
    const ids: number[] = [];
    for (const p of photos) {
      if (p.embedding.length !== this.space.dim)
        throw new GalleryError(
          `embedding has ${p.embedding.length} values, the space has ${this.space.dim}`,
          500,
        );
      const id = this.takeId('photos');
      ins.run(id, personId, p.image, p.thumbnail, JSON.stringify(p.box), JSON.stringify(p.landmarks), now);
      const v = Buffer.from(p.embedding.buffer, p.embedding.byteOffset, p.embedding.byteLength);
      emb.run(id, this.space.model, this.space.version, this.space.dim, v, now);
      ids.push(id);
    }
    return ids;
  }

  override addPerson(name: string, photos: PhotoInput[]): Person {
    const n = validName(name);
    if (!photos.length) throw new GalleryError('at least one photo is required', 400);
    const id = this.db
      .transaction(() => {
        this.assertNameFree(n);
        const pid = this.takeId('people');
        this.db
          .prepare('INSERT INTO people (id, name, name_key, created_at) VALUES (?, ?, ?, ?)')
          .run(pid, n, nameKey(n), Date.now());
        this.insertWithIds(pid, photos);
        this.queue(pid);
        return pid;
      })
      .immediate();
    this.publish();
    return this.person(id);
  }

  override addPhotos(personId: number, photos: PhotoInput[]): Person {
    this.person(personId);
    this.db.transaction(() => {
      this.insertWithIds(personId, photos);
      this.queue(personId);
    })();
    this.publish();
    return this.person(personId);
  }

  override rename(id: number, name: string): Person {
    const p = super.rename(id, name);
    this.queue(id);
    return p;
  }

  override delete(id: number): void {
    super.delete(id);
    this.queue(id);
  }

  override setEmbedding(photoId: number, embedding: Float32Array): void {
    super.setEmbedding(photoId, embedding);
    const row = this.db.prepare('SELECT person_id AS id FROM photos WHERE id = ?').get(photoId) as
      | { id: number }
      | undefined;
    if (row) this.queue(row.id);
  }

  /** The local state of a person as PostgreSQL stores it, or undefined once deleted here. */
  localPerson(
    id: number,
  ):
    | { person: Omit<PgPerson, 'photos'>; photos: Array<NewPhoto & { id: number; createdAt: number }> }
    | undefined {
    const p = this.db.prepare('SELECT id, name, name_key, created_at FROM people WHERE id = ?').get(id) as
      | { id: number; name: string; name_key: string; created_at: number }
      | undefined;
    if (!p) return undefined;
    const photos = this.db
      .prepare(
        'SELECT id, image, thumbnail, box, landmarks, created_at FROM photos WHERE person_id = ? ORDER BY id',
      )
      .all(id) as Array<{
      id: number;
      image: Buffer;
      thumbnail: Buffer;
      box: string;
      landmarks: string;
      created_at: number;
    }>;
    const emb = this.db.prepare('SELECT model, version, dim, vector FROM embeddings WHERE photo_id = ?');
    return {
      person: { id: p.id, name: p.name, nameKey: p.name_key ?? nameKey(p.name), createdAt: p.created_at },
      photos: photos.map((ph) => ({
        id: ph.id,
        image: ph.image,
        thumbnail: ph.thumbnail,
        box: JSON.parse(ph.box),
        landmarks: JSON.parse(ph.landmarks),
        createdAt: ph.created_at,
        embeddings: emb.all(ph.id) as NewPhoto['embeddings'],
      })),
    };
  }

  /**
   * Applies PostgreSQL's state of person `id` (undefined: deleted there) without touching the rows
   * that reference it (alerts keep their person), then the new matrix is published by the caller.
   */
  mirror(id: number, p: PgPerson | undefined): void {
    this.db.transaction(() => {
      if (!p) {
        this.db.prepare('DELETE FROM people WHERE id = ?').run(id);
        return;
      }
      this.db
        .prepare(
          `INSERT INTO people (id, name, name_key, created_at) VALUES (?, ?, ?, ?)
           ON CONFLICT(id) DO UPDATE SET name = excluded.name, name_key = excluded.name_key`,
        )
        .run(p.id, p.name, p.nameKey, p.createdAt);
      const keep = new Set(p.photos.map((ph) => ph.id));
      const local = this.db.prepare('SELECT id FROM photos WHERE person_id = ?').all(id) as Array<{
        id: number;
      }>;
      for (const ph of local)
        if (!keep.has(ph.id)) this.db.prepare('DELETE FROM photos WHERE id = ?').run(ph.id);
      for (const ph of p.photos) {
        this.db
          .prepare(
            `INSERT INTO photos (id, person_id, image, thumbnail, box, landmarks, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING`,
          )
          .run(
            ph.id,
            id,
            ph.image,
            ph.thumbnail,
            JSON.stringify(ph.box),
            JSON.stringify(ph.landmarks),
            ph.createdAt,
          );
        for (const e of ph.embeddings)
          this.db
            .prepare(
              'INSERT OR REPLACE INTO embeddings (photo_id, model, version, dim, vector, created_at) VALUES (?, ?, ?, ?, ?, ?)',
            )
            .run(ph.id, e.model, e.version, e.dim, e.vector, ph.createdAt);
      }
    })();
  }

  /** Ids of every person held here. */
  localIds(): number[] {
    return (this.db.prepare('SELECT id FROM people').all() as Array<{ id: number }>).map((r) => r.id);
  }
}
