/**
 * Keeps a node's replica (cluster-gallery.ts) and PostgreSQL's gallery (gallery-pg.ts) in step:
 *   - follow: LISTEN vigil_gallery on a connection of its own; each NOTIFY (and a poll every few
 *     seconds, for one missed while reconnecting) reloads the people changed since the last
 *     sequence seen, then publishes the new matrix to the matchers;
 *   - push: drains the local outbox into PostgreSQL, retrying with backoff while it is away;
 *   - ids: keeps a pool of ids reserved from PostgreSQL's sequences for local enrolments.
 * A lost connection is logged and retried; nothing here throws into the process.
 */
import type { ClusterConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { backoffDelay } from './backoff.js';
import { ClusterGallery } from './cluster-gallery.js';
import { GALLERY_CHANNEL, type PgGallery } from './gallery-pg.js';
import { ChangeCursor } from './change-cursor.js';
import { type Listening, listenChannel } from './pg-listen.js';

const POLL_MS = 5000;
const ID_BATCH = 64;

export class GallerySync {
  private readonly cursor = new ChangeCursor();
  private listener: Listening | undefined;
  private readonly abort = new AbortController();
  private following: Promise<void> = Promise.resolve();
  private again = false;
  private pushing = false;
  private poll: NodeJS.Timeout | undefined;
  private refilling = new Set<string>();
  /** Local time of the last reload that changed something (tests, metrics). */
  lastReloadAt = 0;

  constructor(
    private readonly store: PgGallery,
    private readonly gallery: ClusterGallery,
    private readonly cfg: ClusterConfig,
    private readonly log: Logger,
  ) {}

  /** Loads the whole gallery, then follows and pushes; resolves once the first load is done. */
  async start(): Promise<void> {
    this.gallery.onQueued = () => setImmediate(() => void this.push());
    this.gallery.onIdsLow = (table) => void this.refill(table);
    await Promise.all([this.refill('people'), this.refill('photos')]);
    await this.fullLoad();
    await this.listen();
    this.poll = setInterval(() => this.reload(), POLL_MS);
    void this.push();
  }

  private async fullLoad(): Promise<void> {
    const seq = await this.store.lastSeq();
    const ids = new Set(await this.store.allPersonIds());
    const pending = this.gallery.pending();
    for (const id of this.gallery.localIds())
      if (!ids.has(id) && !pending.has(id)) this.gallery.mirror(id, undefined);
    for (const id of ids) if (!pending.has(id)) this.gallery.mirror(id, await this.store.person(id));
    this.cursor.loadedUpTo(seq);
    this.gallery.publish();
    this.log.info({ people: ids.size, seq }, 'cluster gallery loaded from PostgreSQL');
  }

  /** NOTIFY reloads; a LISTEN connection lost and back catches up on what changed meanwhile. */
  private async listen(): Promise<void> {
    this.listener = await listenChannel(this.cfg, GALLERY_CHANNEL, this.log, {
      notify: () => this.reload(),
      reconnected: () => this.reload(),
    });
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
        if (!fresh.length) return;
        const personIds = [...new Set(fresh.map((c) => c.personId))];
        const pending = this.gallery.pending();
        for (const id of personIds)
          if (!pending.has(id)) this.gallery.mirror(id, await this.store.person(id));
        const seq = this.cursor.markApplied(fresh);
        this.gallery.publish();
        this.lastReloadAt = Date.now();
        this.log.debug({ people: personIds, seq }, 'cluster gallery reloaded');
      } catch (e) {
        this.log.warn(
          { err: (e as Error).message },
          'cluster gallery reload failed; retried on the next notice',
        );
      }
    });
  }

  private async refill(table: 'people' | 'photos'): Promise<void> {
    if (this.refilling.has(table)) return;
    this.refilling.add(table);
    try {
      for (
        let retry = 0;
        !this.abort.signal.aborted && this.gallery.idsLeft(table) < ClusterGallery.LOW * 2;
        retry++
      ) {
        try {
          this.gallery.addIds(table, await this.store.reserveIds(table, ID_BATCH));
        } catch (e) {
          this.log.warn({ err: (e as Error).message, table }, 'cluster gallery: cannot reserve ids yet');
          await sleep(backoffDelay(this.cfg.retry, retry), this.abort.signal);
        }
      }
    } finally {
      this.refilling.delete(table);
    }
  }

  /** Writes queued local changes to PostgreSQL, oldest first; retries while it is away. */
  async push(): Promise<void> {
    if (this.pushing) return;
    this.pushing = true;
    try {
      for (let retry = 0; !this.abort.signal.aborted; ) {
        const next = this.gallery.nextQueued();
        if (!next) return;
        try {
          const local = this.gallery.localPerson(next.personId);
          if (local) await this.store.upsertPerson(local.person, local.photos);
          else await this.store.deletePerson(next.personId);
          this.gallery.dequeue(next.seq);
          retry = 0;
        } catch (e) {
          if ((e as { code?: string }).code === '23505') {
            const msg = `cluster gallery: person ${next.personId} not stored in PostgreSQL: ${(e as Error).message}`;
            this.log.error({ person: next.personId }, msg);
            this.gallery.dequeue(next.seq, msg);
            continue;
          }
          this.log.warn(
            { err: (e as Error).message },
            'cluster gallery: push to PostgreSQL failed, retrying',
          );
          await sleep(backoffDelay(this.cfg.retry, retry++), this.abort.signal);
        }
      }
    } finally {
      this.pushing = false;
    }
  }

  async stop(): Promise<void> {
    this.abort.abort();
    clearInterval(this.poll);
    await this.following;
    await this.listener?.stop();
  }
}

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });
}
