/**
 * Keeps a node's sources (src/sources/source-set.ts) equal to the cluster's cameras in PostgreSQL
 * (cameras-pg.ts): on each NOTIFY vigil_cameras, and every few seconds (a NOTIFY missed while
 * LISTEN reconnected), the table is read and the difference applied: a new camera gets a stopped
 * StreamSource (the lease rounds decide where it runs), a removed one is stopped (its lease is
 * given back on the next round), a changed one is stopped and made again with its new config (its
 * holder starts it within a heartbeat). A bad row is logged once per problem and left out; a failed
 * read keeps the cameras as they are. Nothing here throws into the process.
 */
import type { ClusterConfig, StreamConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { SourceSet } from '../sources/source-set.js';
import { CAMERAS_CHANNEL, type PgCameras } from './cameras-pg.js';
import { type Listening, listenChannel } from './pg-listen.js';

const POLL_MS = 5000;

/** What differs between two camera sets (by id; changed: same id, another config). */
export function cameraDiff(
  now: readonly StreamConfig[],
  next: readonly StreamConfig[],
): { added: StreamConfig[]; removed: string[]; changed: StreamConfig[] } {
  const before = new Map(now.map((c) => [c.id, JSON.stringify(c)]));
  const after = new Set(next.map((c) => c.id));
  return {
    added: next.filter((c) => !before.has(c.id)),
    removed: now.filter((c) => !after.has(c.id)).map((c) => c.id),
    changed: next.filter((c) => before.has(c.id) && before.get(c.id) !== JSON.stringify(c)),
  };
}

export class CameraFollower {
  private listening: Listening | undefined;
  private poll: NodeJS.Timeout | undefined;
  private applying: Promise<void> = Promise.resolve();
  private again = false;
  private stopped = false;
  /** The problem last logged per bad row (logged again only when it changes). */
  private readonly reported = new Map<string, string>();

  constructor(
    private readonly store: PgCameras,
    private readonly sources: SourceSet,
    private readonly cfg: ClusterConfig,
    private readonly log: Logger,
  ) {}

  /**
   * Creates the table, seeds it from the config file's streams at the cluster's first start, makes
   * the sources the table's cameras, then follows. Throws only when PostgreSQL fails at start.
   */
  async start(fileStreams: readonly StreamConfig[]): Promise<void> {
    await this.store.migrate();
    if (await this.store.seed(fileStreams))
      this.log.info({ cameras: fileStreams.map((s) => s.id) }, 'cluster cameras seeded from the config file');
    const { cameras } = await this.read();
    this.sayIfFileDiffers(fileStreams, cameras);
    await this.apply(cameras);
    this.listening = await listenChannel(this.cfg, CAMERAS_CHANNEL, this.log, {
      notify: () => this.reload(),
      reconnected: () => this.reload(),
    });
    this.poll = setInterval(() => this.reload(), POLL_MS);
  }

  /** Reads the table and applies it (one at a time; calls meanwhile coalesce into one more). */
  reload(): void {
    if (this.stopped) return;
    this.again = true;
    this.applying = this.applying.then(async () => {
      if (!this.again || this.stopped) return;
      this.again = false;
      try {
        await this.apply((await this.read()).cameras);
      } catch (e) {
        this.log.warn(
          { err: (e as Error).message },
          'cluster cameras: reload failed; retried on the next notice',
        );
      }
    });
  }

  private async read(): Promise<{ cameras: StreamConfig[] }> {
    const { cameras, bad } = await this.store.list();
    for (const b of bad) {
      if (this.reported.get(b.id) === b.problem) continue;
      this.reported.set(b.id, b.problem);
      this.log.error(
        { camera: b.id, problem: b.problem },
        `cluster camera "${b.id}" skipped: its config in PostgreSQL is invalid: ${b.problem}`,
      );
    }
    for (const id of this.reported.keys()) if (!bad.some((b) => b.id === id)) this.reported.delete(id);
    return { cameras };
  }

  private async apply(cameras: StreamConfig[]): Promise<void> {
    const d = cameraDiff(
      this.sources.list.map((s) => s.config),
      cameras,
    );
    if (!d.added.length && !d.removed.length && !d.changed.length) return;
    await Promise.all([...d.removed, ...d.changed.map((c) => c.id)].map((id) => this.sources.remove(id)));
    for (const c of [...d.changed, ...d.added]) this.sources.add(c);
    this.log.info(
      { added: d.added.map((c) => c.id), removed: d.removed, changed: d.changed.map((c) => c.id) },
      'cluster cameras changed',
    );
  }

  /** The config file only seeds the cluster: say so when it lists other cameras than the table. */
  private sayIfFileDiffers(file: readonly StreamConfig[], cluster: readonly StreamConfig[]): void {
    const d = cameraDiff(file, cluster);
    if (!d.added.length && !d.removed.length && !d.changed.length) return;
    this.log.warn(
      {
        onlyInCluster: d.added.map((c) => c.id),
        onlyInFile: d.removed,
        different: d.changed.map((c) => c.id),
      },
      "this node's config file streams differ from the cluster's cameras: running the cluster's (PostgreSQL cluster_cameras); the file's streams only seed a new cluster",
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.poll);
    await this.applying;
    await this.listening?.stop();
  }
}
