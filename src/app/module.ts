/**
 * Start-up as an ordered list of named modules (go2rtc's `main.go`): each module starts from the
 * context the modules before it built, adds what it provides, and registers how to stop. A failed
 * start stops what already started; `stop` undoes every module in reverse order.
 */
import type { Logger } from '../log.js';

/** Given to a module's start: how it says what to undo when the service stops. */
export interface ModuleScope {
  /** Runs at stop, after everything registered later (newest first). */
  onStop(undo: () => Promise<void> | void): void;
}

/** One start-up module: what it needs (`Needs`, a part of the context) and what it adds (`Adds`). */
export interface VigilModule<Needs, Adds> {
  readonly name: string;
  start(ctx: Needs, scope: ModuleScope): Promise<Adds> | Adds;
}

/** Declares a module (only for type inference at the definition site). */
export function defineModule<Needs, Adds>(m: VigilModule<Needs, Adds>): VigilModule<Needs, Adds> {
  return m;
}

type AnyModule = VigilModule<never, unknown>;

/** The running modules: their merged context and one stop for all of them. */
export interface Started<Ctx> {
  context: Ctx;
  /** Stops every started module, newest first; safe to call twice. */
  stop(): Promise<void>;
}

/** An ordered list of modules; `add` appends one and widens the context type by what it adds. */
export class Startup<Ctx extends object> {
  private constructor(
    private readonly base: object,
    private readonly modules: readonly AnyModule[],
  ) {}

  static from<Base extends object>(base: Base): Startup<Base> {
    return new Startup<Base>(base, []);
  }

  add<Adds extends object>(module: VigilModule<Ctx, Adds>): Startup<Ctx & Adds> {
    return new Startup<Ctx & Adds>(this.base, [...this.modules, module as unknown as AnyModule]);
  }

  get names(): string[] {
    return this.modules.map((m) => m.name);
  }

  async run(log: Logger): Promise<Started<Ctx>> {
    const undo: Array<{ module: string; run: () => Promise<void> | void }> = [];
    const stop = async () => {
      while (undo.length) {
        const u = undo.pop();
        try {
          await u?.run();
        } catch (e) {
          log.warn({ module: u?.module, err: (e as Error).message }, 'error during shutdown');
        }
      }
    };
    const context: Record<string, unknown> = { ...this.base };
    try {
      for (const m of this.modules) {
        log.debug({ module: m.name }, 'starting');
        const scope: ModuleScope = { onStop: (run) => undo.push({ module: m.name, run }) };
        const adds = await m.start(context as never, scope);
        Object.assign(context, adds);
      }
    } catch (e) {
      await stop();
      throw e;
    }
    return { context: context as Ctx, stop };
  }
}
