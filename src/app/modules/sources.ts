/**
 * The cameras: one StreamSource (ffmpeg process, reconnects) per stream, and the newest decoded
 * frame of each (one pooled buffer held) for "enroll the face on camera X now". The set starts as
 * the config file's streams; in cluster mode it follows the cluster's cameras (cluster-cameras.ts),
 * so everything here is done per source as it comes and undone as it goes (SourceSet.each).
 * Streams are created here but start last (streamsModule), once every consumer is subscribed.
 */
import type { StreamConfig } from '../../config/schema.js';
import type { Frame } from '../../sources/frame.js';
import { SourceSet } from '../../sources/source-set.js';
import { StreamSource } from '../../sources/stream-source.js';
import { defineModule } from '../module.js';
import type { BaseContext } from './base.js';
import type { FfmpegInfo } from '../../sources/ffmpeg.js';
import type { ClusterContext } from './cluster.js';
import type { ClusterLinkContext } from './cluster-link.js';
import { CameraSizes } from '../../cluster/camera-sizes.js';

export interface SourcesContext {
  /** The sources now (a live view of `sourceSet.list`). */
  readonly sources: readonly StreamSource[];
  /** The set itself: per-source subscriptions (`each`), and changes in cluster mode. */
  readonly sourceSet: SourceSet;
  /** The newest decoded frame of each stream. */
  readonly latestFrames: ReadonlyMap<string, Frame>;
}

export const sourcesModule = defineModule<
  BaseContext & ClusterLinkContext & { ffmpeg: FfmpegInfo },
  SourcesContext
>({
  name: 'sources',
  start: async ({ config, ffmpeg, metrics, log, clusterLink }, scope) => {
    // cluster mode: a camera's size probed by one node spares the next holder the probe
    const sizes = clusterLink ? await CameraSizes.open(clusterLink.nats, log) : undefined;
    if (sizes) scope.onStop(() => sizes.stop());
    const create = (s: StreamConfig) =>
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
        knownSize: sizes && (() => sizes.get(s.id)),
        onProbed: sizes && ((size) => sizes.put(s.id, size)),
      });
    const sourceSet = new SourceSet(create);
    for (const s of config.streams) sourceSet.add(s);
    scope.onStop(() => sourceSet.stopAll());
    scope.onStop(
      sourceSet.each((src) => {
        const sub = src.state$.subscribe((st) => metrics.setStreamState(st.id, st.state));
        return () => {
          sub.unsubscribe();
          if (!sourceSet.get(src.id)) metrics.forgetStreamState(src.id);
        };
      }),
    );
    const latestFrames = new Map<string, Frame>();
    scope.onStop(
      sourceSet.each((src) => {
        const sub = src.frames$.subscribe((f) => {
          latestFrames.get(src.id)?.release();
          latestFrames.set(src.id, f.retain());
        });
        return () => {
          sub.unsubscribe();
          latestFrames.get(src.id)?.release();
          latestFrames.delete(src.id);
        };
      }),
    );
    return { sources: sourceSet.list, sourceSet, latestFrames };
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
