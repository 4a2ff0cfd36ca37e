/**
 * The cameras: one StreamSource (ffmpeg process, reconnects) per configured stream, and the newest
 * decoded frame of each (one pooled buffer held) for "enroll the face on camera X now".
 * Streams are created here but start last (streamsModule), once every consumer is subscribed.
 */
import type { Frame } from '../../sources/frame.js';
import { StreamSource } from '../../sources/stream-source.js';
import { defineModule } from '../module.js';
import type { BaseContext } from './base.js';
import type { FfmpegInfo } from '../../sources/ffmpeg.js';
import type { ClusterContext } from './cluster.js';

export interface SourcesContext {
  readonly sources: readonly StreamSource[];
  /** The newest decoded frame of each stream. */
  readonly latestFrames: ReadonlyMap<string, Frame>;
}

export const sourcesModule = defineModule<BaseContext & { ffmpeg: FfmpegInfo }, SourcesContext>({
  name: 'sources',
  start: ({ config, ffmpeg, metrics, log }, scope) => {
    const sources = config.streams.map(
      (s) =>
        new StreamSource(s, ffmpeg, {
          onFrame: (f) => {
            metrics.framesDecoded.inc({ stream: s.id });
            metrics.stageDuration.observe({ stage: 'decode', stream: s.id }, f.readSeconds);
          },
          onPoolDrop: () => metrics.drop(s.id, 'pool_exhausted'),
          onFullPoolDrop: () => metrics.drop(s.id, 'full_pool_exhausted'),
          onDisconnect: (cause, message) => {
            metrics.reconnects.inc({ stream: s.id, cause });
            log.warn({ stream: s.id, cause, error: message }, 'stream disconnected');
          },
        }),
    );
    scope.onStop(() => Promise.all(sources.map((s) => s.stop())).then(() => undefined));
    for (const src of sources) {
      const sub = src.state$.subscribe((st) => metrics.setStreamState(st.id, st.state));
      scope.onStop(() => sub.unsubscribe());
    }
    const latestFrames = new Map<string, Frame>();
    for (const src of sources) {
      const sub = src.frames$.subscribe((f) => {
        latestFrames.get(src.id)?.release();
        latestFrames.set(src.id, f.retain());
      });
      scope.onStop(() => {
        sub.unsubscribe();
        latestFrames.get(src.id)?.release();
        latestFrames.delete(src.id);
      });
    }
    return { sources, latestFrames };
  },
});

/** Last of all: every consumer (chain, hub, stats) is subscribed before the first frame. */
export const streamsModule = defineModule<SourcesContext & ClusterContext, object>({
  name: 'start streams',
  start: ({ sources, cluster }) => {
    // cluster mode: only the cameras whose lease this node takes (src/app/modules/cluster.ts)
    if (cluster) cluster.leases.start();
    else for (const s of sources) s.start();
    return {};
  },
});
