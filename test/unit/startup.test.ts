import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { defineModule, Startup } from '../../src/app/module.js';

const silent = pino({ level: 'silent' });

/** A module that records its start and stop in `events` and adds `{[key]: value}`. */
function recording<K extends string>(events: string[], key: K, value: number) {
  return defineModule<object, Record<K, number>>({
    name: key,
    start: (_ctx, scope) => {
      events.push(`start ${key}`);
      scope.onStop(() => {
        events.push(`stop ${key}`);
      });
      return { [key]: value } as Record<K, number>;
    },
  });
}

describe('Startup: named modules in order, stopped in reverse', () => {
  it('gives each module the context of the ones before it and stops newest first', async () => {
    const events: string[] = [];
    const sum = defineModule<{ a: number; b: number }, { sum: number }>({
      name: 'sum',
      start: ({ a, b }) => ({ sum: a + b }),
    });
    const startup = Startup.from({ base: 'x' })
      .add(recording(events, 'a', 2))
      .add(recording(events, 'b', 3))
      .add(sum);
    expect(startup.names).toEqual(['a', 'b', 'sum']);
    const running = await startup.run(silent);
    expect(running.context).toEqual({ base: 'x', a: 2, b: 3, sum: 5 });
    await running.stop();
    await running.stop(); // twice is safe: nothing runs again
    expect(events).toEqual(['start a', 'start b', 'stop b', 'stop a']);
  });

  it('a module that fails to start stops those already started and rethrows its error', async () => {
    const events: string[] = [];
    const broken = defineModule<object, object>({
      name: 'broken',
      start: () => {
        throw new Error('dataDir: /nope is not writable');
      },
    });
    const startup = Startup.from({})
      .add(recording(events, 'a', 1))
      .add(broken)
      .add(recording(events, 'c', 1));
    await expect(startup.run(silent)).rejects.toThrow('dataDir: /nope is not writable');
    expect(events).toEqual(['start a', 'stop a']);
  });

  it('an undo that throws does not keep the others from running', async () => {
    const events: string[] = [];
    const failingStop = defineModule<object, object>({
      name: 'failing stop',
      start: (_ctx, scope) => {
        scope.onStop(() => {
          throw new Error('boom');
        });
        return {};
      },
    });
    const running = await Startup.from({})
      .add(recording(events, 'a', 1))
      .add(failingStop)
      .run(silent);
    await running.stop();
    expect(events).toEqual(['start a', 'stop a']);
  });
});
