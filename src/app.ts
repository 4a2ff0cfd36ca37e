import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { AuthConfig, VigilConfig } from './config/schema.js';
import { checkExposure, resolveAuth } from './server/auth.js';
import type { InferenceHost } from './inference/host.js';
import { PROJECT_ROOT } from './util/paths.js';
import { createLogger, type Logger } from './log.js';
import { trackEventLoopLag } from './metrics/event-loop.js';
import { VigilMetrics } from './metrics/metrics.js';
import { buildChain, type RunningChain } from './pipeline/builder.js';
import {
  loadPipeline,
  type PipelineDefinition,
  type StageSettings,
  stageSettings,
} from './pipeline/definition.js';
import type { StageContext } from './pipeline/stage.js';
import { WsHub } from './output/ws-hub.js';
import { pipelinePool } from './pipeline-pool.js';
import { findStyles, StyleService } from './style/service.js';
import { createApi, HttpError } from './server/api.js';
import { largestFace } from './faces/engine.js';
import { batchDetector, embedDim } from './faces/tasks/index.js';
import { cropJpeg } from './util/image.js';
import { createHttpServer } from './server/http.js';
import { AlertStore, type FaceAlert } from './faces/alerts.js';
import { Gallery } from './faces/gallery/gallery.js';
import { FaceService } from './faces/service.js';
import { UnknownStore } from './faces/unknowns/store.js';
import { recognitionSpace } from './faces/learn/space.js';
import { type FfmpegInfo, resolveFfmpeg } from './sources/ffmpeg.js';
import type { Frame } from './sources/frame.js';
import { StreamSource } from './sources/stream-source.js';

export interface VigilOptions {
  logger?: Logger;
  /** Use this metrics registry (tests); default: a new one with process metrics. */
  metrics?: VigilMetrics;
}

/**
 * The running service. `start` goes through one ordered list of steps; `stop` undoes them in
 * reverse, so a failed start leaves nothing running.
 */
export class Vigil {
  readonly log: Logger;
  readonly metrics: VigilMetrics;
  ffmpeg!: FfmpegInfo;
  pipeline!: PipelineDefinition;
  /** The settings of each stage kind of the pipeline (for the modules that serve the stages). */
  plan!: StageSettings;
  host: InferenceHost | undefined;
  sources: StreamSource[] = [];
  hub!: WsHub;
  chain: RunningChain | undefined;
  server: Server | undefined;
  faces:
    | {
        gallery: Gallery;
        alerts: AlertStore;
        service: FaceService;
        threshold: number;
        unknowns: UnknownStore;
      }
    | undefined;
  /** The styles viewers may pick (name -> folder), when the pipeline has a style stage. */
  private styleDirs: Map<string, string> | undefined;
  /** Style stage: the styles on the pool, and the styles viewers may pick (name -> folder). */
  style: StyleService | undefined;
  /** The newest decoded frame of each stream. */
  readonly latestFrames = new Map<string, Frame>();
  private readonly undo: Array<() => Promise<void> | void> = [];
  private auth!: AuthConfig;

  private constructor(
    readonly config: VigilConfig,
    opts: VigilOptions,
  ) {
    this.log = opts.logger ?? createLogger(config.log.level);
    this.metrics = opts.metrics ?? new VigilMetrics();
  }

  static async start(config: VigilConfig, opts: VigilOptions = {}): Promise<Vigil> {
    const v = new Vigil(config, opts);
    try {
      for (const [name, step] of v.initSteps()) {
        v.log.debug({ step: name }, 'init');
        await step();
      }
    } catch (e) {
      await v.stop();
      throw e;
    }
    return v;
  }

  /** The ordered start-up list (go2rtc style): each step registers its own undo. */
  private initSteps(): Array<[string, () => Promise<void> | void]> {
    const c = this.config;
    return [
      [
        'access',
        () => {
          this.auth = resolveAuth(c.server.auth);
          checkExposure(c.server.host, this.auth);
        },
      ],
      ['metrics', () => this.undo.push(trackEventLoopLag(this.metrics.eventLoopLag))],
      [
        'ffmpeg',
        () => {
          this.ffmpeg = resolveFfmpeg(c.ffmpegPath);
          this.log.info(
            { ffmpeg: this.ffmpeg.path, version: this.ffmpeg.version, source: this.ffmpeg.source },
            'ffmpeg found',
          );
        },
      ],
      [
        'pipeline',
        () => {
          this.pipeline = loadPipeline(c.pipeline);
          this.plan = stageSettings(this.pipeline);
        },
      ],
      [
        'styles',
        () => {
          const st = this.plan.style;
          if (st) this.styleDirs = findStyles(c.dataDir, st.default, this.plan.name);
        },
      ],
      [
        'inference',
        async () => {
          // one pool for every model of the pipeline (detection, recognition, style)
          this.host = pipelinePool(this.plan, c, {
            onRestart: () => this.metrics.workerRestarts.inc(),
            log: (m) => this.log.info(m),
          });
          if (!this.host) return;
          this.undo.push(() => this.host?.close());
          await this.host.start();
          if (!this.plan.detect) return;
          this.metrics.backendInfo.set({ engine: this.host.engine, backend: this.host.backend }, 1);
          this.metrics.recordEngines(this.host.models);
        },
      ],
      [
        'style',
        () => {
          const styles = this.styleDirs;
          if (!this.plan.style || !this.host || !styles) return;
          const service = new StyleService(this.host, styles, {
            metrics: this.metrics,
            log: this.log,
            smoothing: this.plan.style.smoothing,
          });
          this.undo.push(() => service.close());
          this.style = service;
          this.log.info({ styles: [...styles.keys()] }, 'styles available');
        },
      ],
      [
        'faces',
        () => {
          const rec = this.plan.recognize;
          if (!rec || !this.host) return;
          // The vectors' space: the model's (with its calibrated threshold), or a trained head's.
          const { version: space, threshold } = recognitionSpace(rec);
          const gallery = new Gallery(join(c.dataDir, 'vigil.db'), {
            model: rec.model,
            version: space,
            dim: embedDim(this.host),
          });
          this.undo.push(() => gallery.close());
          const alerts = new AlertStore(gallery.db);
          // Unknown faces seen on the cameras: kept (bounded, expiring) and clustered for naming.
          const unknowns = new UnknownStore(gallery.db, gallery.space, {
            threshold,
            log: (m) => this.log.warn(m),
          });
          const upkeep = setInterval(() => unknowns.maintain(), 60_000);
          upkeep.unref();
          this.undo.push(() => clearInterval(upkeep));
          const purge = () => {
            const r = alerts.purge(c.retention);
            if (r.snapshots || r.alerts)
              this.log.info({ ...r, retention: c.retention }, 'retention: expired face data removed');
          };
          purge();
          const purger = setInterval(purge, 3_600_000);
          purger.unref();
          this.undo.push(() => clearInterval(purger));
          const service = new FaceService(this.host, gallery, threshold, rec);
          this.faces = { gallery, alerts, service, threshold, unknowns };
          // Viewers refresh their people list on any change (also changes made by the CLI).
          // Per-person metric series end with the person (labels stay bounded by the gallery).
          let names = new Set(gallery.matrix().names.values());
          const off = gallery.onChange((m) => {
            this.hub?.broadcast({ type: 'people', version: m.version, people: m.names.size });
            const now = new Set(m.names.values());
            for (const gone of names) {
              if (now.has(gone)) continue;
              for (const s of c.streams) this.metrics.alerts.remove({ stream: s.id, person: gone });
            }
            names = now;
          });
          this.undo.push(off);
          const missing = gallery.photosToEmbed().length;
          if (missing)
            this.log.warn(
              { photos: missing, model: rec.model, space },
              'enrolled photos lack embeddings for this model: run `vigil reembed`',
            );
          this.log.info(
            { people: gallery.list().length, model: rec.model, space, threshold },
            'gallery open',
          );
        },
      ],
      [
        'sources',
        () => {
          this.sources = c.streams.map(
            (s) =>
              new StreamSource(s, this.ffmpeg, {
                onFrame: (f) => {
                  this.metrics.framesDecoded.inc({ stream: s.id });
                  this.metrics.stageDuration.observe({ stage: 'decode', stream: s.id }, f.readSeconds);
                },
                onPoolDrop: () => this.metrics.drop(s.id, 'pool_exhausted'),
                onDisconnect: (cause, message) => {
                  this.metrics.reconnects.inc({ stream: s.id, cause });
                  this.log.warn({ stream: s.id, cause, error: message }, 'stream disconnected');
                },
              }),
          );
          for (const src of this.sources) {
            const sub = src.state$.subscribe((st) => {
              this.metrics.setStreamState(st.id, st.state);
              this.hub?.broadcast({ type: 'status', status: st });
            });
            this.undo.push(() => sub.unsubscribe());
          }
          this.undo.push(() => Promise.all(this.sources.map((s) => s.stop())).then(() => undefined));
        },
      ],
      [
        'output',
        () => {
          this.hub = new WsHub({
            maxBufferedBytes: c.output.maxBufferedBytes,
            metrics: this.metrics,
            knownStreams: () => c.streams.map((s) => s.id),
            ...(this.style
              ? {
                  styles: () => [...(this.style?.styles.keys() ?? [])],
                  defaultStyle: {
                    style: this.plan.style?.default === 'none' ? null : (this.plan.style?.default ?? null),
                    strength: this.plan.style?.strength ?? 1,
                  },
                }
              : {}),
            hello: () => ({
              pipeline: this.plan.name,
              styles: this.style?.list,
              styleDefault: this.style
                ? {
                    style: this.plan.style?.default === 'none' ? null : (this.plan.style?.default ?? null),
                    strength: this.plan.style?.strength ?? 1,
                  }
                : undefined,
              recognition: Boolean(this.faces),
              streams: this.sources.map((s) => ({
                ...s.status,
                width: s.config.width,
                height: s.config.height,
              })),
            }),
          });
          this.undo.push(() => this.hub.close());
        },
      ],
      [
        'chain',
        () => {
          const chain = buildChain(this.pipeline, this.stageContext(), {
            sources: this.sources.map((s) => ({ config: s.config, frames$: s.frames$ })),
            watched: (stream) => this.hub.hasSubscribers(stream),
          });
          this.chain = chain;
          this.undo.push(() => chain.stop());
          this.log.info({ pipeline: this.pipeline.name, stages: chain.kinds }, 'pipeline chain running');
        },
      ],
      [
        'http',
        async () => {
          const server = createHttpServer({
            registry: this.metrics.registry,
            staticDir: join(PROJECT_ROOT, 'dist', 'viewer'),
            api: createApi({
              streams: () => this.sources.map((s) => s.status),
              health: () => ({
                status: 'ok',
                pipeline: this.plan.name,
                backend: this.host?.backend ?? null,
                streams: this.sources.length,
                people: this.faces?.gallery.list().length ?? null,
              }),
              faces: this.faces
                ? { service: this.faces.service, alerts: this.faces.alerts, unknowns: this.faces.unknowns }
                : undefined,
              liveFace: (stream, trackId) => this.liveFace(stream, trackId),
              styles: this.style
                ? {
                    list: () => this.style?.list ?? [],
                    thumbnail: (name) => {
                      const dir = this.style?.styles.get(name);
                      if (!dir) return null;
                      try {
                        return readFileSync(join(dir, 'style.jpg'));
                      } catch {
                        return null;
                      }
                    },
                  }
                : undefined,
              maxBodyBytes: c.server.maxUploadBytes,
              log: (m, err) => this.log.error({ err: (err as Error)?.message }, m),
            }),
            onUpgrade: (req, socket, head) => this.hub.handleUpgrade(req, socket, head),
            auth: this.auth,
          });
          await new Promise<void>((resolve, reject) => {
            server.once('error', (e: NodeJS.ErrnoException) =>
              reject(
                new Error(
                  `server: cannot listen on ${c.server.host}:${c.server.port}: ${e.code ?? e.message}`,
                ),
              ),
            );
            server.listen(c.server.port, c.server.host, () => resolve());
          });
          this.server = server;
          this.undo.push(
            () =>
              new Promise<void>((r) => {
                server.closeAllConnections();
                server.close(() => r());
                setTimeout(r, 2000).unref(); // never hang shutdown on a stuck socket
              }),
          );
          this.log.info(
            { url: `http://${this.address.host}:${this.address.port}/` },
            'viewer and /metrics listening',
          );
        },
      ],
      [
        'live stats',
        () => {
          // The newest frame of each stream (one pooled buffer held): enroll "the face on camera X now".
          for (const src of this.sources) {
            const sub = src.frames$.subscribe((f) => {
              this.latestFrames.get(src.id)?.release();
              this.latestFrames.set(src.id, f.retain());
            });
            this.undo.push(() => {
              sub.unsubscribe();
              this.latestFrames.get(src.id)?.release();
              this.latestFrames.delete(src.id);
            });
          }
          // Per-stream rates for the page, every 2 s.
          let prev = new Map<string, number>();
          let prevT = performance.now();
          const timer = setInterval(async () => {
            const now = performance.now();
            const cur = new Map<string, number>();
            for (const [name, m] of [
              ['decoded', this.metrics.framesDecoded],
              ['processed', this.metrics.framesProcessed],
              ['sent', this.metrics.framesSent],
              ['dropped', this.metrics.framesDropped],
            ] as const) {
              for (const v of (await m.get()).values) {
                const key = `${v.labels.stream}|${name}`;
                cur.set(key, (cur.get(key) ?? 0) + v.value);
              }
            }
            const dt = (now - prevT) / 1000;
            const rate = (id: string, name: string) =>
              Math.max(0, ((cur.get(`${id}|${name}`) ?? 0) - (prev.get(`${id}|${name}`) ?? 0)) / dt);
            const streams = Object.fromEntries(
              this.sources.map((s) => [
                s.id,
                {
                  decodedFps: rate(s.id, 'decoded'),
                  processedFps: rate(s.id, 'processed'),
                  sentFps: rate(s.id, 'sent'),
                  droppedPerSecond: rate(s.id, 'dropped'),
                },
              ]),
            );
            prev = cur;
            prevT = now;
            this.hub?.broadcast({ type: 'stats', streams });
          }, 2000);
          timer.unref();
          this.undo.push(() => clearInterval(timer));
        },
      ],
      [
        'start streams',
        () => {
          for (const s of this.sources) s.start();
        },
      ],
    ];
  }

  /** What the stages get: the services started before the chain, by the names the stages ask for. */
  private stageContext(): StageContext {
    const c = this.config;
    const services = new Map<string, unknown>([['viewers', this.hub]]);
    if (this.host && this.plan.detect) {
      services.set('detector', batchDetector(this.host, this.plan.detect.model, this.metrics));
      services.set('embedder', this.host);
    }
    if (this.faces) {
      services.set('faces', this.faces);
      services.set('alerts', {
        store: this.faces.alerts,
        webhooks: c.alerts.webhooks,
        publish: (alert: FaceAlert) => this.hub.broadcast({ type: 'alert', alert }),
      });
    }
    if (this.style) services.set('styler', this.style.styler());
    return {
      pipeline: this.pipeline.name,
      metrics: this.metrics,
      log: this.log,
      output: c.output,
      batching: { maxBatch: c.inference.maxBatch, maxWaitMs: c.inference.maxWaitMs },
      services,
    };
  }

  /**
   * A JPEG of a face on a live camera now: the given track, else the largest face of the stream's
   * latest detections, cut with a margin from the newest frame (for enrolling from the page).
   */
  private async liveFace(stream: string, trackId?: number): Promise<Buffer> {
    if (!this.sources.some((s) => s.id === stream)) throw new HttpError(404, `no stream "${stream}"`);
    const frame = this.latestFrames.get(stream);
    const dets = this.chain?.latest.get(stream)?.detections ?? [];
    if (!frame) throw new HttpError(409, `stream "${stream}" has no frame yet`);
    const pick = trackId !== undefined ? dets.find((d) => d.trackId === trackId) : largestFace(dets);
    if (!pick)
      throw new HttpError(
        422,
        trackId !== undefined
          ? `no face with track ${trackId} on "${stream}" now`
          : `no face on "${stream}" now`,
      );
    frame.retain();
    try {
      return await cropJpeg({ width: frame.width, height: frame.height, pixels: frame.pixels }, pick.box, {
        margin: 0.6,
        size: 400,
        quality: 92,
      });
    } finally {
      frame.release();
    }
  }

  get address(): { host: string; port: number } {
    const a = this.server?.address() as AddressInfo | null;
    return { host: this.config.server.host, port: a?.port ?? this.config.server.port };
  }

  /** Stops everything started, newest first. Safe to call twice. */
  async stop(): Promise<void> {
    while (this.undo.length) {
      const u = this.undo.pop();
      try {
        await u?.();
      } catch (e) {
        this.log.warn({ err: (e as Error).message }, 'error during shutdown');
      }
    }
  }
}
