/** What every start-up module starts from, and the small modules that only read the config. */
import type { AuthConfig, VigilConfig } from '../../config/schema.js';
import type { Logger } from '../../log.js';
import { trackEventLoopLag } from '../../metrics/event-loop.js';
import type { VigilMetrics } from '../../metrics/metrics.js';
import {
  loadPipeline,
  type PipelineDefinition,
  type StageSettings,
  stageSettings,
} from '../../pipeline/definition.js';
import { checkExposure, resolveAuth } from '../../server/auth.js';
import { type FfmpegInfo, resolveFfmpeg } from '../../sources/ffmpeg.js';
import { defineModule } from '../module.js';

export interface BaseContext {
  readonly config: VigilConfig;
  readonly log: Logger;
  readonly metrics: VigilMetrics;
}

/** Tokens resolved, and a refusal to listen beyond loopback without them. */
export const accessModule = defineModule<BaseContext, { auth: AuthConfig }>({
  name: 'access',
  start: ({ config }) => {
    const auth = resolveAuth(config.server.auth);
    checkExposure(config.server.host, auth);
    return { auth };
  },
});

export const eventLoopModule = defineModule<BaseContext, object>({
  name: 'event loop',
  start: ({ metrics }, scope) => {
    scope.onStop(trackEventLoopLag(metrics.eventLoopLag));
    return {};
  },
});

export const ffmpegModule = defineModule<BaseContext, { ffmpeg: FfmpegInfo }>({
  name: 'ffmpeg',
  start: ({ config, log }) => {
    const ffmpeg = resolveFfmpeg(config.ffmpegPath);
    log.info({ ffmpeg: ffmpeg.path, version: ffmpeg.version, source: ffmpeg.source }, 'ffmpeg found');
    return { ffmpeg };
  },
});

export interface PipelineContext {
  readonly pipeline: PipelineDefinition;
  /** The settings of each stage kind of the pipeline (for the modules that serve the stages). */
  readonly plan: StageSettings;
}

export const pipelineModule = defineModule<BaseContext, PipelineContext>({
  name: 'pipeline',
  start: ({ config }) => {
    const pipeline = loadPipeline(config.pipeline);
    return { pipeline, plan: stageSettings(pipeline) };
  },
});
