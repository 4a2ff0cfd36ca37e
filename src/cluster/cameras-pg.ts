/**
 * The cluster's cameras in PostgreSQL: one row per camera, its stream config as JSON (what the
 * API or the CLI was given, or the first node's config file). The table is the truth for the
 * camera set; a node's config file `streams` only seed it, once (`cluster_settings.cameras_seeded`:
 * deleting every camera afterwards does not bring the file's back). Every row is checked with the
 * stream schema on read: a bad one (written by hand, or by an older Vigil) is reported and skipped.
 * A trigger NOTIFYs `vigil_cameras` with the camera id on every change, whoever made it.
 */
import type pg from 'pg';
import { type StreamConfig, StreamSchema } from '../config/schema.js';
import { inTx } from './pg-tx.js';

export const CAMERAS_CHANNEL = 'vigil_cameras';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS cluster_cameras (
  id text PRIMARY KEY,
  config jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS cluster_settings (
  key text PRIMARY KEY,
  value jsonb NOT NULL
);
CREATE OR REPLACE FUNCTION vigil_cameras_changed() RETURNS trigger AS $$
BEGIN
  PERFORM pg_notify('${CAMERAS_CHANNEL}', COALESCE(NEW.id, OLD.id));
  RETURN NULL;
END $$ LANGUAGE plpgsql;
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'cluster_cameras_changed') THEN
    CREATE TRIGGER cluster_cameras_changed AFTER INSERT OR UPDATE OR DELETE ON cluster_cameras
      FOR EACH ROW EXECUTE FUNCTION vigil_cameras_changed();
  END IF;
END $$;
`;

/** A row that is not a valid stream config: skipped, with why. */
export interface BadCamera {
  id: string;
  problem: string;
}

/** "width: Too small: expected number to be >=16" for the first issue of a failed parse. */
export function firstProblem(error: { issues: Array<{ path: PropertyKey[]; message: string }> }): string {
  const i = error.issues[0];
  return `${i?.path.map(String).join('.') || '(root)'}: ${i?.message}`;
}

/**
 * The stream config of camera `id` from what was given (the API's body, the CLI's options, a
 * row): the id is the row's key, so one in the body must be the same.
 */
export function parseCamera(
  id: string,
  given: unknown,
): { ok: true; config: StreamConfig } | { ok: false; problem: string } {
  if (typeof given !== 'object' || given === null || Array.isArray(given))
    return { ok: false, problem: '(root): a stream config object is required' };
  const body = given as Record<string, unknown>;
  if (body.id !== undefined && body.id !== id)
    return { ok: false, problem: `id: "${String(body.id)}" is not the camera's id "${id}"` };
  const r = StreamSchema.safeParse({ ...body, id });
  return r.success ? { ok: true, config: r.data } : { ok: false, problem: firstProblem(r.error) };
}

export class PgCameras {
  constructor(readonly pool: pg.Pool) {}

  /** Creates the tables once per database (nodes starting together serialise on an advisory lock). */
  async migrate(): Promise<void> {
    await inTx(this.pool, (c) => c.query(SCHEMA).then(() => undefined), 'vigil_cameras_schema');
  }

  /**
   * First start of the cluster: the config file's streams become its cameras, unless a node
   * seeded them before (then nothing is written). True when this call seeded.
   */
  async seed(streams: readonly StreamConfig[]): Promise<boolean> {
    return inTx(
      this.pool,
      async (c) => {
        const done = await c.query("SELECT 1 FROM cluster_settings WHERE key = 'cameras_seeded'");
        if (done.rowCount) return false;
        const rows = await c.query('SELECT 1 FROM cluster_cameras LIMIT 1');
        // cameras written before the mark existed (by the CLI, say) are the cluster's already
        const empty = !rows.rowCount;
        if (empty)
          for (const s of streams)
            await c.query(
              'INSERT INTO cluster_cameras (id, config) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING',
              [s.id, JSON.stringify(s)],
            );
        await c.query(
          "INSERT INTO cluster_settings (key, value) VALUES ('cameras_seeded', to_jsonb(now()::text))",
        );
        return empty;
      },
      'vigil_cameras_seed',
    );
  }

  /** Every camera, by id; the rows that are not valid stream configs apart. */
  async list(): Promise<{ cameras: StreamConfig[]; bad: BadCamera[] }> {
    const r = await this.pool.query<{ id: string; config: unknown }>(
      'SELECT id, config FROM cluster_cameras ORDER BY id',
    );
    const cameras: StreamConfig[] = [];
    const bad: BadCamera[] = [];
    for (const row of r.rows) {
      const p = parseCamera(row.id, row.config);
      if (p.ok) cameras.push(p.config);
      else bad.push({ id: row.id, problem: p.problem });
    }
    return { cameras, bad };
  }

  /** The raw rows (what was given, before the schema's defaults), for the API and the CLI. */
  async rows(): Promise<Array<{ id: string; config: unknown; updatedAt: string }>> {
    const r = await this.pool.query<{ id: string; config: unknown; updated_at: Date }>(
      'SELECT id, config, updated_at FROM cluster_cameras ORDER BY id',
    );
    return r.rows.map((row) => ({ id: row.id, config: row.config, updatedAt: row.updated_at.toISOString() }));
  }

  /** Creates or replaces camera `id` with `given` (already checked by parseCamera). True: created. */
  async put(id: string, given: Record<string, unknown>): Promise<boolean> {
    const r = await this.pool.query<{ created: boolean }>(
      `INSERT INTO cluster_cameras (id, config, updated_at) VALUES ($1, $2, now())
       ON CONFLICT (id) DO UPDATE SET config = EXCLUDED.config, updated_at = now()
       RETURNING (xmax = 0) AS created`,
      [id, JSON.stringify({ ...given, id })],
    );
    return Boolean(r.rows[0]?.created);
  }

  /** True when there was such a camera. */
  async remove(id: string): Promise<boolean> {
    const r = await this.pool.query('DELETE FROM cluster_cameras WHERE id = $1', [id]);
    return (r.rowCount ?? 0) > 0;
  }
}
