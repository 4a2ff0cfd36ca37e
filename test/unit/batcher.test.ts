import { Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { type BatchRunner, batchAcrossStreams, CrossStreamBatcher } from '../../src/pipeline/batcher.js';
import { latestWinsMap, rateGate } from '../../src/pipeline/operators.js';

interface F {
  streamId: string;
  seq: number;
}

/** A runner with `workers` slots whose batches finish when the test says so. */
function manualRunner(workers = 1) {
  let busy = 0;
  const calls: Array<{ frames: F[]; finish: () => void; fail: (e: Error) => void }> = [];
  const waiters: Array<() => void> = [];
  const runner: BatchRunner<F, string> = {
    idle: () => workers - busy,
    whenIdle: () => new Promise((r) => waiters.push(r)),
    run: (frames) =>
      new Promise((resolve, reject) => {
        busy++;
        const done = () => {
          busy--;
          waiters.splice(0).forEach((w) => {
            w();
          });
        };
        calls.push({
          frames,
          finish: () => {
            done();
            resolve(frames.map((f) => `${f.streamId}#${f.seq}`));
          },
          fail: (e) => {
            done();
            reject(e);
          },
        });
      }),
  };
  return { runner, calls };
}

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

describe('CrossStreamBatcher', () => {
  it('settled() waits for the batch in flight at close: its frame is emitted first, waiting ones dropped', async () => {
    const { runner, calls } = manualRunner();
    const events: string[] = [];
    const b = new CrossStreamBatcher<F, string>(
      runner,
      {
        maxBatch: 1,
        maxWaitMs: 0,
        onDrop: (f, reason) => events.push(`drop ${f.streamId}#${f.seq} ${reason}`),
      },
      (r) => events.push(`emit ${r.result}`),
    );
    b.offer({ streamId: 'a', seq: 0 });
    b.offer({ streamId: 'b', seq: 0 }); // waits: the one runner is busy
    b.close();
    let settled = false;
    const done = b.settled().then(() => {
      settled = true;
    });
    await tick(5);
    expect(settled).toBe(false);
    expect(events).toEqual(['drop b#0 inference_busy']);
    calls[0]?.finish();
    await done;
    expect(events).toEqual(['drop b#0 inference_busy', 'emit a#0']);
    await b.settled(); // nothing in flight: at once
  });

  it('sends one batch as soon as maxBatch streams have a frame', async () => {
    const { runner, calls } = manualRunner();
    const out: string[] = [];
    const b = new CrossStreamBatcher<F, string>(runner, { maxBatch: 3, maxWaitMs: 10_000 }, (r) =>
      out.push(r.result),
    );
    b.offer({ streamId: 'a', seq: 0 });
    b.offer({ streamId: 'b', seq: 0 });
    expect(calls.length).toBe(0);
    b.offer({ streamId: 'c', seq: 0 });
    expect(calls.length).toBe(1);
    expect(calls[0]?.frames.map((f) => f.streamId)).toEqual(['a', 'b', 'c']);
    calls[0]?.finish();
    await tick();
    expect(out).toEqual(['a#0', 'b#0', 'c#0']);
  });

  it('sends a partial batch after maxWaitMs', async () => {
    const { runner, calls } = manualRunner();
    const b = new CrossStreamBatcher<F, string>(runner, { maxBatch: 8, maxWaitMs: 20 }, () => {});
    b.offer({ streamId: 'a', seq: 0 });
    b.offer({ streamId: 'b', seq: 0 });
    await tick(5);
    expect(calls.length).toBe(0);
    await tick(40);
    expect(calls.length).toBe(1);
    expect(calls[0]?.frames.length).toBe(2);
  });

  it('latest frame wins while the runner is busy: slots stay bounded and drops are counted', async () => {
    const { runner, calls } = manualRunner();
    const dropped: string[] = [];
    const results: string[] = [];
    let maxPending = 0;
    const b = new CrossStreamBatcher<F, string>(
      runner,
      {
        maxBatch: 4,
        maxWaitMs: 0,
        onDrop: (f, reason) => dropped.push(`${f.streamId}#${f.seq}:${reason}`),
        onPending: (n) => {
          maxPending = Math.max(maxPending, n);
        },
      },
      (r) => results.push(r.result),
    );
    b.offer({ streamId: 'a', seq: 0 }); // dispatched at once (maxWaitMs 0)
    expect(calls.length).toBe(1);
    for (let seq = 1; seq <= 50; seq++) for (const s of ['a', 'b', 'c']) b.offer({ streamId: s, seq });
    expect(maxPending).toBe(3);
    expect(dropped.length).toBe(150 - 3);
    expect(dropped.every((d) => d.endsWith(':inference_busy'))).toBe(true);
    await tick(5);
    expect(calls.length).toBe(1);
    calls[0]?.finish();
    await tick(5);
    expect(calls.length).toBe(2);
    expect(calls[1]?.frames.map((f) => `${f.streamId}#${f.seq}`)).toEqual(['a#50', 'b#50', 'c#50']);
    calls[1]?.finish();
    await tick();
    expect(results).toEqual(['a#0', 'a#50', 'b#50', 'c#50']);
  });

  it('keeps one frame in flight per stream, so results come back in order, across several workers', async () => {
    const { runner, calls } = manualRunner(2);
    const results: string[] = [];
    const b = new CrossStreamBatcher<F, string>(runner, { maxBatch: 1, maxWaitMs: 0 }, (r) =>
      results.push(r.result),
    );
    b.offer({ streamId: 'a', seq: 1 });
    b.offer({ streamId: 'a', seq: 2 }); // waits: a#1 is in flight
    b.offer({ streamId: 'b', seq: 1 }); // goes to the second worker
    await tick();
    expect(calls.map((c) => c.frames.map((f) => `${f.streamId}#${f.seq}`).join())).toEqual(['a#1', 'b#1']);
    calls[1]?.finish();
    calls[0]?.finish();
    await tick(5);
    expect(calls[2]?.frames[0]).toEqual({ streamId: 'a', seq: 2 });
    calls[2]?.finish();
    await tick();
    expect(results.filter((r) => r.startsWith('a'))).toEqual(['a#1', 'a#2']);
  });

  it('a failed batch drops its frames with reason inference_error and the next batch still runs', async () => {
    const { runner, calls } = manualRunner();
    const dropped: string[] = [];
    const b = new CrossStreamBatcher<F, string>(
      runner,
      { maxBatch: 2, maxWaitMs: 0, onDrop: (f, r) => dropped.push(`${f.streamId}:${r}`) },
      () => {},
    );
    b.offer({ streamId: 'a', seq: 0 });
    b.offer({ streamId: 'b', seq: 0 });
    calls[0]?.fail(new Error('worker exited'));
    await tick(5);
    expect(dropped).toEqual(['a:inference_error']);
    expect(calls.length).toBe(2);
    expect(calls[1]?.frames.map((f) => f.streamId)).toEqual(['b']);
  });

  it('as an RxJS operator, retains what it keeps and releases everything exactly once', async () => {
    const { runner, calls } = manualRunner();
    const refs = new Map<string, number>();
    const key = (f: F) => `${f.streamId}#${f.seq}`;
    const src = new Subject<F>();
    const out: string[] = [];
    const sub = src
      .pipe(
        batchAcrossStreams(runner, {
          maxBatch: 2,
          maxWaitMs: 0,
          retain: (f) => refs.set(key(f), (refs.get(key(f)) ?? 0) + 1),
          release: (f) => refs.set(key(f), (refs.get(key(f)) ?? 0) - 1),
        }),
      )
      .subscribe((r) => out.push(r.result));
    src.next({ streamId: 'a', seq: 0 });
    src.next({ streamId: 'a', seq: 1 });
    src.next({ streamId: 'a', seq: 2 });
    calls[0]?.finish();
    await tick(5);
    calls[1]?.finish();
    await tick(5);
    sub.unsubscribe();
    expect(out).toEqual(['a#0', 'a#2']);
    expect([...refs.values()].every((v) => v === 0)).toBe(true);
  });
});

describe('latestWinsMap', () => {
  it('runs one at a time, keeps only the newest waiting value, and drops the rest', async () => {
    const src = new Subject<number>();
    const dropped: number[] = [];
    const seen: number[] = [];
    const release: number[] = [];
    src
      .pipe(
        latestWinsMap(
          async (v: number) => {
            await tick(10);
            return v;
          },
          { onDrop: (v) => dropped.push(v), release: (v) => release.push(v) },
        ),
      )
      .subscribe((v) => seen.push(v));
    for (let i = 0; i < 6; i++) src.next(i);
    await tick(60);
    expect(seen).toEqual([0, 5]);
    expect(dropped).toEqual([1, 2, 3, 4]);
    expect(release.sort()).toEqual([0, 1, 2, 3, 4, 5]);
  });
});

describe('rateGate', () => {
  it('turns a jittery 15 fps into a steady 5 fps', () => {
    const gate = rateGate(5, 15);
    let passed = 0;
    for (let i = 0; i < 150; i++) if (gate(i * (1000 / 15) + (i % 2 ? 4 : -4))) passed++;
    expect(passed).toBe(50);
  });
});
