/**
 * PostgreSQL clients for several queries, shared by the cluster's stores (gallery, cameras,
 * events): a checked-out client that survives a database restart, and one transaction on it,
 * optionally serialised across the cluster by an advisory lock.
 */
import type pg from 'pg';

/**
 * A pooled client for several queries. A checked-out client whose connection drops between two
 * queries emits 'error' with no pool listener attached: unhandled, it would end the process (a
 * database restart); the failed query rejects anyway, so the event itself is only swallowed.
 */
export async function checkout(pool: pg.Pool): Promise<pg.PoolClient> {
  const c = await pool.connect();
  const ignore = () => undefined;
  c.on('error', ignore);
  const release = c.release.bind(c);
  c.release = (err?: Error | boolean) => {
    c.off('error', ignore);
    release(err);
  };
  return c;
}

/**
 * Runs `fn` in one transaction; with `lock`, under the transaction-scoped advisory lock of that
 * name, so every node doing the same thing at once takes its turn (and sees the others' commits).
 */
export async function inTx<T>(
  pool: pg.Pool,
  fn: (c: pg.PoolClient) => Promise<T>,
  lock?: string,
): Promise<T> {
  const c = await checkout(pool);
  try {
    await c.query('BEGIN');
    if (lock) await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [lock]);
    const out = await fn(c);
    await c.query('COMMIT');
    return out;
  } catch (e) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    c.release();
  }
}
