/**
 * Operator feedback on alerts, kept in the gallery database (so it survives restarts, and a CLI
 * and the service see the same): a "wrong" verdict stores the alert's face as a negative of the
 * person it was taken for, "correct" adds it to the person's photos (deduplicated, capped), and
 * "ignore" stores it as a face that never names or alerts (a poster, a TV), on one camera or on
 * all. Every entry can be undone: deleting it restores the gallery as it was before it.
 *
 * The decision rules (applied by match.ts identify() wherever a face is named):
 * - negatives: a person is named only when their best gallery similarity s is at or above the
 *   threshold AND s >= (the look's best similarity to that person's negatives) + negativeMargin.
 *   A look nearer to a face the operator said is not that person than to the person's own photos
 *   is more likely that other face. Chosen over raising the person's threshold for every look:
 *   that costs the person's true looks everywhere, while the margin rule only bites near the
 *   negative (a nearest-neighbour rule with the negative as a labelled example).
 * - ignored faces: a look at or above ignoreSimilarity to an ignored face of its camera (or of
 *   every camera) is neither named nor unknown. Stricter than the identity threshold: it means
 *   "this very picture", so the real person walking past their poster is still recognised.
 */
import type Database from 'better-sqlite3';
import { dot } from '../metrics.js';
import { GalleryError } from './errors.js';
import type { EmbeddingSpace, Gallery, PhotoInput } from './gallery.js';

export const VERDICTS = ['wrong', 'correct', 'ignore'] as const;
export type Verdict = (typeof VERDICTS)[number];

export interface FeedbackEntry {
  id: number;
  verdict: Verdict;
  alertId: number | null;
  /** wrong / correct: the person the verdict is about. */
  personId: number | null;
  /** ignore: the camera it applies to (null: every camera). */
  camera: string | null;
  /** correct: the gallery photo it added (null: not added, `note` says why). */
  photoId: number | null;
  note: string | null;
  /** Epoch milliseconds. */
  createdAt: number;
}

/** What the decisions read, in the gallery's embedding space. */
export interface FeedbackMatrix {
  /** Negatives per person id. */
  negatives: Map<number, Float32Array[]>;
  ignored: Array<{ camera: string | null; vector: Float32Array }>;
}

export interface FeedbackRules {
  negativeMargin: number;
  ignoreSimilarity: number;
  /** A "correct" face this similar to one of the person's photos is not added again. */
  dedupSimilarity: number;
  /** At most this many photos per person are added by "correct". */
  maxCorrectPhotos: number;
}

export const FEEDBACK_RULES: FeedbackRules = {
  negativeMargin: 0.05,
  ignoreSimilarity: 0.75,
  dedupSimilarity: 0.92,
  maxCorrectPhotos: 10,
};

export function createFeedbackSchema(db: Database.Database): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS feedback (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      verdict TEXT NOT NULL,
      alert_id INTEGER,
      person_id INTEGER REFERENCES people(id) ON DELETE CASCADE,
      camera TEXT,
      photo_id INTEGER REFERENCES photos(id) ON DELETE SET NULL,
      note TEXT,
      created_at INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS feedback_alert ON feedback(alert_id);
    CREATE TABLE IF NOT EXISTS feedback_vectors (
      feedback_id INTEGER NOT NULL REFERENCES feedback(id) ON DELETE CASCADE,
      model TEXT NOT NULL,
      version TEXT NOT NULL,
      dim INTEGER NOT NULL,
      vector BLOB NOT NULL,
      PRIMARY KEY (feedback_id, model, version)
    );
    -- The face a negative or an ignored face was taken from (the alert's snapshot and where the
    -- face is in it), kept with the entry because snapshots expire: without it a model change
    -- (vigil reembed) would silently drop the operator's feedback.
    CREATE TABLE IF NOT EXISTS feedback_faces (
      feedback_id INTEGER PRIMARY KEY REFERENCES feedback(id) ON DELETE CASCADE,
      image BLOB NOT NULL,
      box TEXT NOT NULL,
      landmarks TEXT NOT NULL
    );
  `);
}

/** The face of a negative or ignored entry, as stored for re-embedding. */
export interface FeedbackFace {
  image: Buffer;
  box: [number, number, number, number];
  landmarks: Array<[number, number]>;
  embedding: Float32Array;
}

const vec = (b: Buffer, dim: number) =>
  new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + dim * 4));

/** The negatives and ignored faces of the current space (for GalleryMatrix.feedback). */
export function loadFeedback(db: Database.Database, space: EmbeddingSpace): FeedbackMatrix {
  const rows = db
    .prepare(
      `SELECT f.verdict, f.person_id AS personId, f.camera, v.vector FROM feedback f
       JOIN feedback_vectors v ON v.feedback_id = f.id
       WHERE v.model = ? AND v.version = ? AND v.dim = ? AND f.verdict IN ('wrong', 'ignore') ORDER BY f.id`,
    )
    .all(space.model, space.version, space.dim) as Array<{
    verdict: Verdict;
    personId: number | null;
    camera: string | null;
    vector: Buffer;
  }>;
  const m: FeedbackMatrix = { negatives: new Map(), ignored: [] };
  for (const r of rows) {
    const v = vec(r.vector, space.dim);
    if (r.verdict === 'ignore') m.ignored.push({ camera: r.camera, vector: v });
    else if (r.personId !== null) m.negatives.set(r.personId, [...(m.negatives.get(r.personId) ?? []), v]);
  }
  return m;
}

/** Is this look an ignored face (of `camera`, or of every camera)? */
export function isIgnored(
  m: FeedbackMatrix,
  e: Float32Array,
  camera: string | undefined,
  rules = FEEDBACK_RULES,
): boolean {
  return m.ignored.some(
    (i) => (i.camera === null || i.camera === camera) && dot(i.vector, e) >= rules.ignoreSimilarity,
  );
}

/** Does a negative of `personId` veto naming this look (similarity `s` to the person's photos)? */
export function vetoedByNegative(
  m: FeedbackMatrix,
  personId: number,
  s: number,
  e: Float32Array,
  rules = FEEDBACK_RULES,
): boolean {
  const negs = m.negatives.get(personId);
  return negs !== undefined && negs.some((n) => s < dot(n, e) + rules.negativeMargin);
}

/** A feedback row as stored (the cluster's replica reads the same rows). */
export interface FeedbackRow {
  id: number;
  verdict: Verdict;
  alert_id: number | null;
  person_id: number | null;
  camera: string | null;
  photo_id: number | null;
  note: string | null;
  created_at: number;
}

const entry = (r: FeedbackRow): FeedbackEntry => ({
  id: r.id,
  verdict: r.verdict,
  alertId: r.alert_id,
  personId: r.person_id,
  camera: r.camera,
  photoId: r.photo_id,
  note: r.note,
  createdAt: r.created_at,
});

const COLUMNS = 'id, verdict, alert_id, person_id, camera, photo_id, note, created_at';

/** The feedback entries and their effect on the gallery; every change republishes the matrix. */
export class FeedbackStore {
  constructor(
    readonly gallery: Gallery,
    readonly rules: FeedbackRules = FEEDBACK_RULES,
  ) {}

  private get db(): Database.Database {
    return this.gallery.db;
  }

  list(opts: { alertId?: number } = {}): FeedbackEntry[] {
    const rows = (
      opts.alertId === undefined
        ? this.db.prepare(`SELECT ${COLUMNS} FROM feedback ORDER BY id DESC`).all()
        : this.db
            .prepare(`SELECT ${COLUMNS} FROM feedback WHERE alert_id = ? ORDER BY id DESC`)
            .all(opts.alertId)
    ) as FeedbackRow[];
    return rows.map(entry);
  }

  /** The latest entry of each of these alerts (alerts without one are absent). */
  latestByAlert(alertIds: number[]): Map<number, FeedbackEntry> {
    const out = new Map<number, FeedbackEntry>();
    if (!alertIds.length) return out;
    const rows = this.db
      .prepare(
        `SELECT ${COLUMNS} FROM feedback WHERE id IN (SELECT MAX(id) FROM feedback
         WHERE alert_id IN (SELECT value FROM json_each(?)) GROUP BY alert_id)`,
      )
      .all(JSON.stringify(alertIds)) as FeedbackRow[];
    for (const r of rows) if (r.alert_id !== null) out.set(r.alert_id, entry(r));
    return out;
  }

  get(id: number): FeedbackEntry {
    const r = this.db.prepare(`SELECT ${COLUMNS} FROM feedback WHERE id = ?`).get(id) as
      | FeedbackRow
      | undefined;
    if (!r) throw new GalleryError(`no feedback entry with id ${id}`, 404);
    return entry(r);
  }

  /** Refuses a second identical verdict on one alert (409), naming the entry that has it. */
  private assertNew(
    verdict: Verdict,
    alertId: number | null,
    personId: number | null,
    camera: string | null,
  ) {
    if (alertId === null) return;
    const r = this.db
      .prepare(
        'SELECT id FROM feedback WHERE verdict = ? AND alert_id = ? AND person_id IS ? AND camera IS ? LIMIT 1',
      )
      .get(verdict, alertId, personId, camera) as { id: number } | undefined;
    if (r)
      throw new GalleryError(
        `alert ${alertId} already has this verdict (feedback ${r.id}; DELETE /api/feedback/${r.id} undoes it)`,
        409,
      );
  }

  private insert(f: Omit<FeedbackEntry, 'id' | 'createdAt'>, face: FeedbackFace | undefined): number {
    const id = Number(
      this.db
        .prepare(
          'INSERT INTO feedback (id, verdict, alert_id, person_id, camera, photo_id, note, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
        )
        .run(
          this.gallery.newFeedbackId() ?? null,
          f.verdict,
          f.alertId,
          f.personId,
          f.camera,
          f.photoId,
          f.note,
          Date.now(),
        ).lastInsertRowid,
    );
    if (face) {
      this.db
        .prepare('INSERT INTO feedback_faces (feedback_id, image, box, landmarks) VALUES (?, ?, ?, ?)')
        .run(id, face.image, JSON.stringify(face.box), JSON.stringify(face.landmarks));
      this.setVector(id, face.embedding); // tells the gallery
    } else this.gallery.feedbackChanged(id);
    return id;
  }

  /** Stores the current-space vector of an entry (at creation, or when re-embedding). */
  setVector(feedbackId: number, embedding: Float32Array): void {
    const { model, version, dim } = this.gallery.space;
    if (embedding.length !== dim)
      throw new GalleryError(`embedding has ${embedding.length} values, the space has ${dim}`, 500);
    this.db
      .prepare(
        'INSERT OR REPLACE INTO feedback_vectors (feedback_id, model, version, dim, vector) VALUES (?, ?, ?, ?, ?)',
      )
      .run(
        feedbackId,
        model,
        version,
        dim,
        Buffer.from(embedding.buffer, embedding.byteOffset, embedding.byteLength),
      );
    this.gallery.feedbackChanged(feedbackId);
  }

  /** Negatives and ignored faces with no vector in the current space (after a model change). */
  facesToEmbed(): Array<{
    id: number;
    image: Buffer;
    box: [number, number, number, number];
    landmarks: Array<[number, number]>;
  }> {
    const { model, version } = this.gallery.space;
    const rows = this.db
      .prepare(
        `SELECT ff.feedback_id AS id, ff.image, ff.box, ff.landmarks FROM feedback_faces ff
         WHERE NOT EXISTS (SELECT 1 FROM feedback_vectors v WHERE v.feedback_id = ff.feedback_id AND v.model = ? AND v.version = ?)
         ORDER BY ff.feedback_id`,
      )
      .all(model, version) as Array<{ id: number; image: Buffer; box: string; landmarks: string }>;
    return rows.map((r) => ({
      id: r.id,
      image: r.image,
      box: JSON.parse(r.box),
      landmarks: JSON.parse(r.landmarks),
    }));
  }

  /** "Not this person": the face becomes a negative of `personId`. */
  wrong(alertId: number | null, personId: number, face: FeedbackFace): FeedbackEntry {
    const id = this.db
      .transaction(() => {
        this.gallery.person(personId);
        this.assertNew('wrong', alertId, personId, null);
        const f = { verdict: 'wrong' as const, alertId, personId, camera: null, photoId: null, note: null };
        return this.insert(f, face);
      })
      .immediate();
    this.gallery.publish();
    return this.get(id);
  }

  /** Why a face is not added to the person's photos (nearly identical, or the cap), or undefined. */
  private notAdded(personId: number, e: Float32Array): string | undefined {
    const g = this.gallery.matrix();
    let best = -1;
    let bestRow = -1;
    for (let r = 0; r < g.rows; r++) {
      if (g.rowPerson[r] !== personId) continue;
      const s = dot(e, g.data.subarray(r * g.dim, (r + 1) * g.dim));
      if (s > best) [best, bestRow] = [s, r];
    }
    if (bestRow >= 0 && best >= this.rules.dedupSimilarity)
      return `not added: nearly identical to a photo the person has (similarity ${best.toFixed(3)} >= ${this.rules.dedupSimilarity})`;
    const added = this.db
      .prepare(
        "SELECT COUNT(*) AS n FROM feedback WHERE verdict = 'correct' AND person_id = ? AND photo_id IS NOT NULL",
      )
      .get(personId) as { n: number };
    if (added.n >= this.rules.maxCorrectPhotos)
      return `not added: ${added.n} photos were already added to this person by "correct" (the cap is ${this.rules.maxCorrectPhotos})`;
    return undefined;
  }

  /** "Yes, this person": the face joins their photos unless nearly identical to one, or at the cap. */
  correct(alertId: number | null, personId: number, photo: PhotoInput): FeedbackEntry {
    const id = this.db
      .transaction(() => {
        this.gallery.person(personId);
        this.assertNew('correct', alertId, personId, null);
        const note = this.notAdded(personId, photo.embedding) ?? null;
        const photoId = note === null ? (this.gallery.insertPhotos(personId, [photo])[0] ?? null) : null;
        return this.insert({ verdict: 'correct', alertId, personId, camera: null, photoId, note }, undefined);
      })
      .immediate();
    this.gallery.publish();
    return this.get(id);
  }

  /** "Never alert on this face" (a poster, a TV), on `camera` or (null) everywhere. */
  ignore(alertId: number | null, camera: string | null, face: FeedbackFace): FeedbackEntry {
    const id = this.db
      .transaction(() => {
        this.assertNew('ignore', alertId, null, camera);
        const f = { verdict: 'ignore' as const, alertId, personId: null, camera, photoId: null, note: null };
        return this.insert(f, face);
      })
      .immediate();
    this.gallery.publish();
    return this.get(id);
  }

  /** Undoes an entry: deletes it, and the photo a "correct" added. Returns the entry as it was. */
  undo(id: number): FeedbackEntry {
    const e = this.db
      .transaction(() => {
        const f = this.get(id);
        if (f.photoId !== null) this.db.prepare('DELETE FROM photos WHERE id = ?').run(f.photoId);
        this.db.prepare('DELETE FROM feedback WHERE id = ?').run(id);
        this.gallery.feedbackChanged(id);
        return f;
      })
      .immediate();
    this.gallery.publish();
    return e;
  }
}
