/**
 * The audit log of admin actions on face data (enrolling, adding photos, renaming, deleting,
 * naming or forgetting an unknown face): who did it and when, in the gallery's SQLite database
 * (it outlives the people it names: no foreign keys) and one log line per action.
 */
import type Database from 'better-sqlite3';

export type AuditAction =
  | 'enroll'
  | 'add-photo'
  | 'rename'
  | 'delete'
  | 'name-unknown'
  | 'forget-unknown'
  | 'feedback'
  | 'undo-feedback';

export interface AuditEntry {
  id: number;
  /** Epoch milliseconds. */
  time: number;
  /** The token the request carried ("adminToken", "token"), or "local" when none is configured. */
  actor: string;
  action: AuditAction;
  personId: number | null;
  clusterId: number | null;
  /** The person's name as it was at the time (for a rename: the new name). */
  name: string | null;
  /** What else the action says: where the photo came from, the old name, counts. */
  detail: Record<string, unknown>;
}

export type AuditInput = Omit<AuditEntry, 'id' | 'time' | 'personId' | 'clusterId' | 'name' | 'detail'> &
  Partial<Pick<AuditEntry, 'personId' | 'clusterId' | 'name' | 'detail'>>;

interface Row {
  id: number;
  time: number;
  actor: string;
  action: AuditAction;
  person_id: number | null;
  cluster_id: number | null;
  name: string | null;
  detail: string;
}

const entry = (r: Row): AuditEntry => ({
  id: r.id,
  time: r.time,
  actor: r.actor,
  action: r.action,
  personId: r.person_id,
  clusterId: r.cluster_id,
  name: r.name,
  detail: JSON.parse(r.detail) as Record<string, unknown>,
});

export class AuditLog {
  constructor(
    private readonly db: Database.Database,
    /** Called with every recorded entry (the service writes it as a log line). */
    private readonly onRecord?: (e: AuditEntry) => void,
    private readonly now: () => number = Date.now,
  ) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS audit_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        time INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        person_id INTEGER,
        cluster_id INTEGER,
        name TEXT,
        detail TEXT NOT NULL
      );
    `);
  }

  record(a: AuditInput): AuditEntry {
    const id = Number(
      this.db
        .prepare(
          'INSERT INTO audit_log (time, actor, action, person_id, cluster_id, name, detail) VALUES (?, ?, ?, ?, ?, ?, ?)',
        )
        .run(
          this.now(),
          a.actor,
          a.action,
          a.personId ?? null,
          a.clusterId ?? null,
          a.name ?? null,
          JSON.stringify(a.detail ?? {}),
        ).lastInsertRowid,
    );
    const e = entry(this.db.prepare('SELECT * FROM audit_log WHERE id = ?').get(id) as Row);
    this.onRecord?.(e);
    return e;
  }

  /** Newest first; `before` is an entry id for the next page. */
  list(opts: { before?: number; limit?: number } = {}): AuditEntry[] {
    const limit = Math.min(Math.max(1, opts.limit ?? 100), 1000);
    const rows = (
      opts.before
        ? this.db
            .prepare('SELECT * FROM audit_log WHERE id < ? ORDER BY id DESC LIMIT ?')
            .all(opts.before, limit)
        : this.db.prepare('SELECT * FROM audit_log ORDER BY id DESC LIMIT ?').all(limit)
    ) as Row[];
    return rows.map(entry);
  }
}
