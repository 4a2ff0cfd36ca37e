/**
 * The running service, read top to bottom as the order it starts in (go2rtc's main.go): each
 * module (src/app/modules/) starts from the typed context the ones above it built and is stopped
 * in reverse. A failed start stops what had started.
 */
import type { VigilConfig } from './config/schema.js';
import { createLogger, type Logger } from './log.js';
import { VigilMetrics } from './metrics/metrics.js';
import { type Started, Startup } from './app/module.js';
import {
  accessModule,
  type BaseContext,
  eventLoopModule,
  ffmpegModule,
  pipelineModule,
} from './app/modules/base.js';
import { alertSinksModule } from './app/modules/alert-sinks.js';
import { chainModule } from './app/modules/chain.js';
import { clusterModule } from './app/modules/cluster.js';
import { clusterLinkModule } from './app/modules/cluster-link.js';
import { clusterUiModule } from './app/modules/cluster-ui.js';
import { clusterCamerasModule } from './app/modules/cluster-cameras.js';
import { dataDirModule } from './app/modules/data-dir.js';
import { demoGalleryModule } from './app/modules/demo-gallery.js';
import { facesModule } from './app/modules/faces.js';
import { httpModule } from './app/modules/http.js';
import { inferenceModule } from './app/modules/inference.js';
import { outputModule } from './app/modules/output.js';
import { sourcesModule, streamsModule } from './app/modules/sources.js';
import { statsModule } from './app/modules/stats.js';
import { styleCatalogModule, styleModule } from './app/modules/style.js';

export interface VigilOptions {
  logger?: Logger;
  /** Use this metrics registry (tests); default: a new one with process metrics. */
  metrics?: VigilMetrics;
}

/**
 * The start-up list. The cluster modules come before http: the API's /api/cluster/cameras needs
 * the cluster's camera table.
 */
export function vigilStartup(base: BaseContext) {
  return Startup.from(base)
    .add(accessModule)
    .add(dataDirModule)
    .add(clusterLinkModule)
    .add(eventLoopModule)
    .add(ffmpegModule)
    .add(pipelineModule)
    .add(styleCatalogModule)
    .add(inferenceModule)
    .add(styleModule)
    .add(facesModule)
    .add(demoGalleryModule)
    .add(sourcesModule)
    .add(outputModule)
    .add(clusterModule)
    .add(clusterCamerasModule)
    .add(alertSinksModule)
    .add(chainModule)
    .add(httpModule)
    .add(statsModule)
    .add(clusterUiModule)
    .add(streamsModule);
}

/** Everything the modules started: sources, inference pool, faces, style, hub, chain, server. */
export type VigilContext = Awaited<ReturnType<ReturnType<typeof vigilStartup>['run']>>['context'];

export class Vigil {
  private constructor(
    /** The running modules' context (read-only views for tests, benchmarks and the CLI). */
    readonly context: VigilContext,
    private readonly running: Started<VigilContext>,
  ) {}

  static async start(config: VigilConfig, opts: VigilOptions = {}): Promise<Vigil> {
    const log = opts.logger ?? createLogger(config.log.level);
    const metrics = opts.metrics ?? new VigilMetrics();
    const running = await vigilStartup({ config, log, metrics }).run(log);
    return new Vigil(running.context, running);
  }

  get log(): Logger {
    return this.context.log;
  }

  get metrics(): VigilMetrics {
    return this.context.metrics;
  }

  get address(): { host: string; port: number } {
    return this.context.address;
  }

  /** Stops everything started, newest first. Safe to call twice. */
  stop(): Promise<void> {
    return this.running.stop();
  }
}
