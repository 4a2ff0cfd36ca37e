import { groupBy, mergeMap, Observable, type OperatorFunction } from 'rxjs';

/**
 * Like exhaustMap, but never loses the newest value: while `fn` runs, only the latest arrival is kept
 * (older ones are handed to `onDrop`); when `fn` finishes, the kept value runs next. At most one
 * value runs and one waits, whatever the input rate: a slow stage cannot grow a queue.
 */
export function latestWinsMap<T, R>(
  fn: (value: T) => Promise<R>,
  hooks: {
    onDrop?: (value: T) => void;
    retain?: (value: T) => void;
    release?: (value: T) => void;
    onError?: (e: Error, value: T) => void;
    /** A value that will never be emitted because the subscriber left (waiting, or finished after). */
    onDiscard?: (value: T) => void;
  } = {},
): OperatorFunction<T, R> {
  return (source) =>
    new Observable<R>((sub) => {
      let running = false;
      let waiting: { value: T } | undefined;
      let done = false;
      let closed = false;
      const run = (value: T) => {
        running = true;
        fn(value)
          .then(
            (r) => {
              if (!closed) sub.next(r);
              else hooks.onDiscard?.(value);
            },
            (e: Error) => hooks.onError?.(e, value),
          )
          .finally(() => {
            hooks.release?.(value);
            running = false;
            const next = waiting;
            waiting = undefined;
            if (next && !closed) run(next.value);
            else if (next) {
              hooks.onDiscard?.(next.value);
              hooks.release?.(next.value);
            } else if (done && !closed) sub.complete();
          });
      };
      const s = source.subscribe({
        next: (v) => {
          hooks.retain?.(v);
          if (!running) return run(v);
          if (waiting) {
            hooks.onDrop?.(waiting.value);
            hooks.release?.(waiting.value);
          }
          waiting = { value: v };
        },
        error: (e) => sub.error(e),
        complete: () => {
          done = true;
          if (!running) sub.complete();
        },
      });
      return () => {
        closed = true;
        s.unsubscribe();
        if (waiting) {
          hooks.onDiscard?.(waiting.value);
          hooks.release?.(waiting.value);
        }
        waiting = undefined;
      };
    });
}

/**
 * Lets through one value per `fps` period of their timestamps (with half a source-frame period of
 * tolerance, so a 15 fps source gives a steady 5 fps, not a jittery 3.75).
 */
export function rateGate(fps: number, sourceFps: number): (ts: number) => boolean {
  const period = 1000 / fps;
  const tolerance = 500 / sourceFps;
  let last = Number.NEGATIVE_INFINITY;
  return (ts) => {
    if (ts - last >= period - tolerance) {
      last = ts;
      return true;
    }
    return false;
  };
}

/**
 * Runs `make(stream)`'s operator separately for each stream (e.g. one latest-wins encoder per
 * stream), merging the outputs: a slow stream never holds up another.
 */
export function perStream<T extends { stream: string }, R>(
  make: (stream: string) => OperatorFunction<T, R>,
): OperatorFunction<T, R> {
  return (source) =>
    source.pipe(
      groupBy((v) => v.stream),
      mergeMap((g) => g.pipe(make(g.key))),
    );
}
