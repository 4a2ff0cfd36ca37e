/**
 * Keeps a node's feedback (feedback-replica.ts) and PostgreSQL's (feedback-pg.ts) in step, as
 * gallery-follow.ts does for the gallery:
 *   - follow: LISTEN vigil_feedback (pg-listen.ts: reconnected with backoff, then a catch-up);
 *     each notice, and a poll every few seconds, reloads the entries changed since the last
 *     sequence seen, then publishes the new matrix, so a negative or an ignored face given on any
 *     node changes the decisions here;
 *   - push: drains the local outbox into PostgreSQL, retrying with backoff while it is away;
 *   - ids: keeps a pool of entry ids reserved from PostgreSQL's sequence.
 * An entry whose person this replica does not have yet (enrolled a moment ago on another node)
 * has the person mirrored first. Nothing here throws into the process.
 */
import type pg from 'pg';
import type { ClusterConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { backoffDelay } from './backoff.js';
import type { ClusterGallery } from './cluster-gallery.js';
import { FEEDBACK_CHANNEL, migrateFeedback, PgFeedback } from './feedback-pg.js';
import { FeedbackReplica } from './feedback-replica.js';
import { sleep } from './gallery-follow.js';
import { PgGallery } from './gallery-pg.js';
import { ChangeCursor } from './change-cursor.js';
import { type Listening, listenChannel } from './pg-listen.js';

const POLL_MS = 5000;
/** As in gallery-follow.ts: sequence numbers commit out of order, so every reload looks back. */
const ID_BATCH = 32;

export class FeedbackSync {
  readonly replica: FeedbackReplica;
  private readonly cursor = new ChangeCursor();
  /** Entries not mirrored yet because their person has local changes not in PostgreSQL yet. */
  private readonly deferred = new Set<number>();
  private listening: Listening | undefined;
  private readonly abort = new AbortController();
  private following: Promise<void> = Promise.resolve();
  private again = false;
  private pushing = false;
  private refilling = false;
  private poll: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: PgFeedback,
    private readonly people: PgGallery,
    private readonly gallery: ClusterGallery,
    private readonly cfg: ClusterConfig,
    private readonly log: Logger,
  ) {
    this.replica = new FeedbackReplica(gallery, cfg.node);
  }

  /** Loads every entry, then follows and pushes; resolves once the first load is done. */
  async start(): Promise<void> {
    this.replica.onQueued = () => setImmediate(() => void this.push());
    this.replica.onIdsLow = () => void this.refill();
    await this.adopt();
    await this.refill();
    await this.fullLoad();
    this.listening = await listenChannel(this.cfg, FEEDBACK_CHANNEL, this.log, {
      notify: () => this.reload(),
      reconnected: () => this.reload(),
    });
    this.poll = setInterval(() => this.reload(), POLL_MS);
    void this.push();
  }

  /** The first start of feedback replication on this replica: its earlier entries join the cluster's. */
  private async adopt(): Promise<void> {
    const count = this.replica.unreplicated();
    const ids = count ? await this.store.reserveIds(count) : [];
    this.replica.adopt(ids);
    if (count)
      this.log.info(
        { entries: count },
        'cluster feedback: entries given here before it was replicated are queued',
      );
  }

  private async fullLoad(): Promise<void> {
    const seq = await this.store.lastSeq();
    const ids = new Set(await this.store.allIds());
    const pending = this.replica.pending();
    for (const id of this.replica.localIds())
      if (!ids.has(id) && !pending.has(id)) this.replica.mirror(id, undefined);
    for (const id of ids) if (!pending.has(id)) await this.apply(id);
    this.cursor.loadedUpTo(seq);
    this.gallery.publish();
    this.log.info({ entries: ids.size, seq }, 'cluster feedback loaded from PostgreSQL');
  }

  /** Mirrors one entry from PostgreSQL, its person first when this replica lacks them. */
  private async apply(id: number): Promise<void> {
    this.deferred.delete(id);
    const e = await this.store.entry(id);
    if (this.replica.mirror(id, e) === 'done' || e?.personId == null) return;
    // changed here, not yet in PostgreSQL (deleted, or the photo is not mirrored meanwhile): later
    if (this.gallery.pending().has(e.personId)) {
      this.deferred.add(id);
      return;
    }
    // enrolled on another node a moment ago, or the "correct" photo is not mirrored yet
    this.gallery.mirror(e.personId, await this.people.person(e.personId));
    if (this.replica.mirror(id, e) !== 'done')
      this.log.warn(
        { feedback: id, person: e.personId },
        'cluster feedback: its person or photo is gone; skipped',
      );
  }

  /** Reloads what changed since the last sequence (one reload at a time, coalesced). */
  reload(): void {
    if (this.abort.signal.aborted) return;
    this.again = true;
    this.following = this.following.then(async () => {
      if (!this.again) return;
      this.again = false;
      try {
        const fresh = this.cursor.fresh(await this.store.changesAfter(this.cursor.readFrom));
        if (!fresh.length && !this.deferred.size) return;
        const ids = [...new Set([...fresh.map((c) => c.id), ...this.deferred])];
        const pending = this.replica.pending();
        for (const id of ids) if (!pending.has(id)) await this.apply(id);
        const seq = this.cursor.markApplied(fresh);
        this.gallery.publish();
        this.log.debug({ entries: ids, seq }, 'cluster feedback reloaded');
      } catch (e) {
        this.log.warn(
          { err: (e as Error).message },
          'cluster feedback reload failed; retried on the next notice',
        );
      }
    });
  }

  private async refill(): Promise<void> {
    if (this.refilling) return;
    this.refilling = true;
    try {
      for (
        let retry = 0;
        !this.abort.signal.aborted && this.replica.idsLeft() < FeedbackReplica.LOW * 2;
        retry++
      ) {
        try {
          this.replica.addIds(await this.store.reserveIds(ID_BATCH));
        } catch (e) {
          this.log.warn({ err: (e as Error).message }, 'cluster feedback: cannot reserve ids yet');
          await sleep(backoffDelay(this.cfg.retry, retry), this.abort.signal);
        }
      }
    } finally {
      this.refilling = false;
    }
  }

  /** Writes queued local entries to PostgreSQL, oldest first; retries while it is away. */
  async push(): Promise<void> {
    if (this.pushing) return;
    this.pushing = true;
    try {
      for (let retry = 0; !this.abort.signal.aborted; ) {
        const next = this.replica.nextQueued();
        if (!next) return;
        const local = this.replica.local(next.id);
        try {
          if (local) await this.store.upsert(local);
          else await this.store.delete(next.id);
          this.replica.dequeue(next.seq);
          retry = 0;
        } catch (e) {
          if (this.refused(e, next, local?.personId ?? null)) continue;
          this.log.warn(
            { err: (e as Error).message },
            'cluster feedback: push to PostgreSQL failed, retrying',
          );
          await sleep(backoffDelay(this.cfg.retry, retry++), this.abort.signal);
        }
      }
    } finally {
      this.pushing = false;
    }
  }

  /**
   * A foreign key refused: the entry's person (or photo) is not in PostgreSQL. While this node's
   * gallery still has that person queued it is retried; otherwise the person was deleted
   * elsewhere (their feedback goes with them) and the entry is kept in the outbox with the error.
   */
  private refused(e: unknown, next: { seq: number; id: number }, personId: number | null): boolean {
    if ((e as { code?: string }).code !== '23503') return false;
    if (personId !== null && this.gallery.pending().has(personId)) return false;
    const msg = `cluster feedback: entry ${next.id} not stored in PostgreSQL: ${(e as Error).message}`;
    this.log.error({ feedback: next.id }, msg);
    this.replica.dequeue(next.seq, msg);
    return true;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    clearInterval(this.poll);
    await this.following;
    await this.listening?.stop();
  }
}

/** Cluster mode's feedback replication for a node's replica gallery: tables, first load, follow. */
export async function startFeedbackSync(
  pool: pg.Pool,
  gallery: ClusterGallery,
  cfg: ClusterConfig,
  log: Logger,
): Promise<FeedbackSync> {
  await migrateFeedback(pool);
  const sync = new FeedbackSync(new PgFeedback(pool), new PgGallery(pool), gallery, cfg, log);
  await sync.start();
  return sync;
}
