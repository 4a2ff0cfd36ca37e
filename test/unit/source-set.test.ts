/**
 * The dynamic camera set (src/sources/source-set.ts) and the difference a node applies when the
 * cluster's cameras change (src/cluster/cameras-follow.ts), with the check of a camera's config
 * (src/cluster/cameras-pg.ts).
 */
import { BehaviorSubject, Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { cameraDiff } from '../../src/cluster/cameras-follow.js';
import { parseCamera } from '../../src/cluster/cameras-pg.js';
import { type StreamConfig, StreamSchema } from '../../src/config/schema.js';
import { SourceSet } from '../../src/sources/source-set.js';
import type { StreamSource } from '../../src/sources/stream-source.js';

const stream = (id: string, width = 64) => StreamSchema.parse({ id, lavfi: 'testsrc2', width, height: 64 });

/** A StreamSource as far as the set looks at it: an id, frames that complete on stop. */
function fakeSource(config: StreamConfig): StreamSource {
  const frames = new Subject<never>();
  return {
    id: config.id,
    config,
    frames$: frames.asObservable(),
    state$: new BehaviorSubject({ id: config.id, state: 'stopped' }),
    stop: async () => frames.complete(),
  } as unknown as StreamSource;
}

describe('SourceSet', () => {
  it('runs each() on the sources now and later, and its teardown when one is removed', async () => {
    const set = new SourceSet(fakeSource);
    set.add(stream('a'));
    const seen: string[] = [];
    const undo = set.each((s) => {
      seen.push(`+${s.id}`);
      return () => seen.push(`-${s.id}`);
    });
    set.add(stream('b'));
    await set.remove('a');
    expect(seen).toEqual(['+a', '+b', '-a']);
    expect(set.ids).toEqual(['b']);
    undo();
    expect(seen).toEqual(['+a', '+b', '-a', '-b']);
    set.add(stream('c'));
    expect(seen).toHaveLength(4); // unsubscribed
  });

  it('sources$ gives every source, and a removed one completes its frames', async () => {
    const set = new SourceSet(fakeSource);
    set.add(stream('a'));
    const ids: string[] = [];
    const completed: string[] = [];
    set.sources$.subscribe((s) => {
      ids.push(s.id);
      s.frames$.subscribe({ complete: () => completed.push(s.id) });
    });
    set.add(stream('b'));
    await set.remove('b');
    expect(ids).toEqual(['a', 'b']);
    expect(completed).toEqual(['b']);
    expect(() => set.add(stream('a'))).toThrow(/already/);
  });
});

describe('cameraDiff and parseCamera', () => {
  it('finds added, removed and changed cameras by id', () => {
    const d = cameraDiff(
      [stream('a'), stream('b'), stream('c')],
      [stream('a'), stream('b', 96), stream('d')],
    );
    expect(d.added.map((c) => c.id)).toEqual(['d']);
    expect(d.removed).toEqual(['c']);
    expect(d.changed.map((c) => c.id)).toEqual(['b']);
    expect(cameraDiff([stream('a')], [stream('a')])).toEqual({ added: [], removed: [], changed: [] });
  });

  it('names the key of a bad config, and refuses another id than the camera', () => {
    expect(parseCamera('x', { lavfi: 'testsrc2', width: 15 })).toEqual({
      ok: false,
      problem: expect.stringMatching(/^width: /),
    });
    expect(parseCamera('x', { id: 'y', lavfi: 'testsrc2' })).toMatchObject({
      ok: false,
      problem: expect.stringMatching(/^id: /),
    });
    expect(parseCamera('x', [])).toMatchObject({ ok: false, problem: expect.stringMatching(/^\(root\)/) });
    expect(parseCamera('bad id', { lavfi: 'testsrc2' })).toMatchObject({
      ok: false,
      problem: expect.stringMatching(/^id: /),
    });
    const ok = parseCamera('x', { lavfi: 'testsrc2' });
    expect(ok.ok && ok.config).toMatchObject({ id: 'x', width: 640, detectFps: 5 });
  });
});
