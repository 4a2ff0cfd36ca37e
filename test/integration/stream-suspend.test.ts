/**
 * A stream suspended or stopped right after its start, before fluent-ffmpeg has spawned ffmpeg
 * (it spawns asynchronously): no ffmpeg is left running and no frame arrives afterwards. Before
 * the fix the late ffmpeg ran on and turned the stream live again: in cluster mode, a camera
 * given back at once then ran on two nodes.
 */
import { filter, firstValueFrom, scan } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { StreamSchema } from '../../src/config/schema.js';
import { resolveFfmpeg } from '../../src/sources/ffmpeg.js';
import { liveFfmpegPids, StreamSource } from '../../src/sources/stream-source.js';

const lavfi = (id: string, embedFrom: 'detect' | 'auto') =>
  StreamSchema.parse({ id, lavfi: 'testsrc2=size=64x64:rate=10', width: 64, height: 64, embedFrom });

/** Started, and (auto: after its size probe) at the moment it asks fluent-ffmpeg to spawn. */
async function startedUntilSpawn(src: StreamSource, embedFrom: 'detect' | 'auto'): Promise<void> {
  const spawning = firstValueFrom(
    src.state$.pipe(
      scan((n, st) => n + (st.state === 'connecting' ? 1 : 0), 0),
      filter((n) => n === (embedFrom === 'auto' ? 2 : 1)),
    ),
  );
  src.start();
  await spawning;
}

describe('StreamSource suspended before ffmpeg spawned', () => {
  for (const embedFrom of ['detect', 'auto'] as const)
    it(`leaves no ffmpeg and no frames (embedFrom ${embedFrom})`, async () => {
      const ff = resolveFfmpeg();
      const suspended = new StreamSource(lavfi(`s-${embedFrom}`, embedFrom), ff);
      const stopped = new StreamSource(lavfi(`t-${embedFrom}`, embedFrom), ff);
      let frames = 0;
      suspended.frames$.subscribe(() => frames++);
      const before = new Set(liveFfmpegPids());
      await Promise.all([startedUntilSpawn(suspended, embedFrom), startedUntilSpawn(stopped, embedFrom)]);
      await Promise.all([suspended.suspend(), stopped.stop()]);
      await new Promise((r) => setTimeout(r, 2500));
      expect(frames).toBe(0);
      expect(suspended.status.state).toBe('stopped');
      expect(stopped.status.state).toBe('stopped');
      expect(liveFfmpegPids().filter((p) => !before.has(p))).toEqual([]);
      // and it runs again when started
      suspended.start();
      await new Promise<void>((resolve) => {
        const sub = suspended.frames$.subscribe(() => {
          sub.unsubscribe();
          resolve();
        });
      });
      expect(suspended.status.state).toBe('live');
      await suspended.stop();
    }, 20_000);
});
