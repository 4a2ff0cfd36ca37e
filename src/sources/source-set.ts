/**
 * The cameras a node has now: a set of StreamSources that may change while it runs (cluster mode:
 * cameras added, removed or changed in PostgreSQL, src/cluster/cameras-follow.ts). The embedded
 * single node fills it once from the config file and never changes it.
 * Whoever subscribes per source (metrics, latest frames, MQTT, the WebSocket hub, the chain) does
 * so through `each`, which also covers the sources added later and undoes its work for the removed
 * ones, or through `sources$` (the chain's head: a removed source's frames$ completes).
 */
import { Observable, Subject } from 'rxjs';
import type { StreamConfig } from '../config/schema.js';
import type { StreamSource } from './stream-source.js';

export class SourceSet {
  /** The sources now, in the order they were added (a live array: read it, never keep a copy). */
  readonly list: StreamSource[] = [];
  private readonly added = new Subject<StreamSource>();
  private readonly removed = new Subject<StreamSource>();

  constructor(private readonly create: (config: StreamConfig) => StreamSource) {}

  get ids(): string[] {
    return this.list.map((s) => s.id);
  }

  get(id: string): StreamSource | undefined {
    return this.list.find((s) => s.id === id);
  }

  /** Every source now and each one added later (a source added twice, after a change, twice). */
  get sources$(): Observable<StreamSource> {
    return new Observable<StreamSource>((sub) => {
      for (const s of [...this.list]) sub.next(s);
      return this.added.subscribe(sub);
    });
  }

  /**
   * Runs `fn` on every source now and on each one added later; what it returns is run when that
   * source is removed (or when the returned function is called, for all of them).
   */
  each(fn: (src: StreamSource) => () => void): () => void {
    const undo = new Map<StreamSource, () => void>();
    const on = (s: StreamSource) => undo.set(s, fn(s));
    const subs = [
      this.sources$.subscribe(on),
      this.removed.subscribe((s) => {
        undo.get(s)?.();
        undo.delete(s);
      }),
    ];
    return () => {
      for (const sub of subs) sub.unsubscribe();
      for (const u of undo.values()) u();
      undo.clear();
    };
  }

  /** A new, stopped source for `config` (its id must not be in the set). */
  add(config: StreamConfig): StreamSource {
    if (this.get(config.id)) throw new Error(`stream "${config.id}" is already running`);
    const src = this.create(config);
    this.list.push(src);
    this.added.next(src);
    return src;
  }

  /** Stops the source (ffmpeg gone, frames$ completed) and takes it out of the set. */
  async remove(id: string): Promise<void> {
    const src = this.get(id);
    if (!src) return;
    this.list.splice(this.list.indexOf(src), 1);
    await src.stop();
    this.removed.next(src);
  }

  /** Stops every source (the service stopping). */
  async stopAll(): Promise<void> {
    await Promise.all(this.list.map((s) => s.stop()));
  }
}
