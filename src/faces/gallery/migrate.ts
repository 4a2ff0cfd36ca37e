/**
 * Schema migrations of the gallery database (people, alerts, unknown faces share one SQLite file).
 * Each migration looks at the schema itself (sqlite_master, table_info) rather than a version
 * number, because several stores create their own tables in the same file independently.
 */
import type Database from 'better-sqlite3';

/** A column elsewhere that holds ids of a table: the sequence never goes below its largest value. */
export interface IdReference {
  table: string;
  column: string;
}

const ROWID_PK = /\bid\s+INTEGER\s+PRIMARY\s+KEY\b(?!\s+AUTOINCREMENT)/i;

function tableSql(db: Database.Database, table: string): string | undefined {
  const row = db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) as
    | { sql: string }
    | undefined;
  return row?.sql;
}

function hasColumn(db: Database.Database, table: string, column: string): boolean {
  if (!tableSql(db, table)) return false;
  const cols = db.prepare(`PRAGMA table_info("${table}")`).all() as Array<{ name: string }>;
  return cols.some((c) => c.name === column);
}

/** The largest id a table ever handed out that is still known: its own rows and any references. */
function largestKnownId(db: Database.Database, table: string, refs: IdReference[]): number {
  let max = (db.prepare(`SELECT MAX(id) AS m FROM "${table}"`).get() as { m: number | null }).m ?? 0;
  for (const r of refs) {
    if (!hasColumn(db, r.table, r.column)) continue;
    const m = (db.prepare(`SELECT MAX("${r.column}") AS m FROM "${r.table}"`).get() as { m: number | null })
      .m;
    if (typeof m === 'number' && m > max) max = m;
  }
  return max;
}

/**
 * Makes `table`'s `id INTEGER PRIMARY KEY` an `AUTOINCREMENT` key, so that an id is never handed
 * out twice (plain rowid tables reuse the largest id after it is deleted, and an old alert's person
 * id would then name a new, unrelated person). SQLite cannot alter a key in place: the table is
 * rebuilt from its own stored CREATE statement (every column, including ones added later by ALTER
 * TABLE, and every index), all rows copied with their ids, in one transaction with foreign keys
 * off (dropping the old table must not cascade into photos or sightings) and checked before commit
 * (no reference may dangle that did not before).
 * The new sequence starts above the largest id still referenced by `refs`, so ids an old alert
 * still names are not handed out again either. Returns whether the table was migrated.
 */
export function ensureAutoincrement(db: Database.Database, table: string, refs: IdReference[] = []): boolean {
  const sql = tableSql(db, table);
  if (!sql || /\bAUTOINCREMENT\b/i.test(sql)) return false;
  if (!ROWID_PK.test(sql))
    throw new Error(`cannot migrate table ${table}: its key is not "id INTEGER PRIMARY KEY" (${sql})`);
  const tmp = `${table}__autoincrement`;
  const created = sql
    .replace(ROWID_PK, (m) => `${m} AUTOINCREMENT`)
    .replace(/^CREATE\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?("[^"]+"|\w+)/i, `CREATE TABLE "${tmp}"`);
  const indexes = (
    db
      .prepare("SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL")
      .all(table) as Array<{ sql: string }>
  ).map((r) => r.sql);
  const foreignKeys = db.pragma('foreign_keys', { simple: true }) as number;
  db.pragma('foreign_keys = OFF'); // only outside a transaction; restored below
  try {
    db.transaction(() => {
      const brokenBefore = (db.pragma('foreign_key_check') as unknown[]).length;
      const seq = largestKnownId(db, table, refs);
      db.exec(`DROP TABLE IF EXISTS "${tmp}"`);
      db.exec(created);
      db.exec(`INSERT INTO "${tmp}" SELECT * FROM "${table}"`);
      db.exec(`DROP TABLE "${table}"`);
      db.exec(`ALTER TABLE "${tmp}" RENAME TO "${table}"`);
      for (const i of indexes) db.exec(i);
      db.prepare('DELETE FROM sqlite_sequence WHERE name = ?').run(table);
      db.prepare('INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)').run(table, seq);
      const broken = (db.pragma('foreign_key_check') as unknown[]).length - brokenBefore;
      if (broken > 0)
        throw new Error(`migrating ${table} would break ${broken} foreign key(s): nothing was changed`);
    }).immediate();
  } finally {
    db.pragma(`foreign_keys = ${foreignKeys ? 'ON' : 'OFF'}`);
  }
  return true;
}

/**
 * people.name_key, the key names are compared by for duplicates (src/faces/person-name.ts nameKey):
 * added to older databases and filled for rows without one. Not UNIQUE: a database may already
 * hold two names that only now compare equal ("José" in NFC and NFD), and both are kept; new
 * duplicates are refused inside the write transaction.
 */
export function ensureNameKeys(db: Database.Database, key: (name: string) => string): void {
  if (!hasColumn(db, 'people', 'name_key')) db.exec('ALTER TABLE people ADD COLUMN name_key TEXT');
  db.exec('CREATE INDEX IF NOT EXISTS people_name_key ON people(name_key)');
  const rows = db.prepare('SELECT id, name FROM people WHERE name_key IS NULL').all() as Array<{
    id: number;
    name: string;
  }>;
  if (!rows.length) return;
  const set = db.prepare('UPDATE people SET name_key = ? WHERE id = ?');
  db.transaction(() => {
    for (const r of rows) set.run(key(r.name), r.id);
  }).immediate();
}
