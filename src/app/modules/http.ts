/** The HTTP server: the viewer's files, the API, /metrics and the WebSocket upgrade on one port. */
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { AuthConfig } from '../../config/schema.js';
import { createApi, type ApiDeps } from '../../server/api.js';
import type { ClusterApiSlot } from '../../server/api-cluster.js';
import { requesterOf } from '../../server/api-audit.js';
import { accessOf } from '../../server/auth.js';
import { createHttpServer } from '../../server/http.js';
import { WS_MAX_PAYLOAD } from '../../output/ws-hub.js';
import { PROJECT_ROOT } from '../../util/paths.js';
import { defineModule, type ModuleScope } from '../module.js';
import type { BaseContext, PipelineContext } from './base.js';
import type { ChainContext } from './chain.js';
import type { ClusterCamerasContext } from './cluster-cameras.js';
import { parseCamera } from '../../cluster/cameras-pg.js';
import type { FacesContext } from './faces.js';
import type { InferenceContext } from './inference.js';
import { liveFace } from './live-face.js';
import type { OutputContext } from './output.js';
import type { SourcesContext } from './sources.js';
import type { StyleContext } from './style.js';

export interface HttpContext {
  readonly server: Server;
  /** Where it listens (the port the OS chose when the config says 0). */
  readonly address: { host: string; port: number };
  /** Cluster mode: filled by the cluster-ui module once the cluster view is up. */
  readonly clusterApi: ClusterApiSlot;
}

type Needs = BaseContext &
  PipelineContext &
  InferenceContext &
  StyleContext &
  FacesContext &
  SourcesContext &
  OutputContext &
  ChainContext &
  ClusterCamerasContext & { auth: AuthConfig };

/** A stuck socket never hangs shutdown longer than this. */
const CLOSE_GRACE_MS = 2000;

export const httpModule = defineModule<Needs, HttpContext>({
  name: 'http',
  start: async (ctx, scope) => {
    const { config, hub, auth, metrics, log } = ctx;
    const clusterApi: ClusterApiSlot = { current: undefined };
    const app = await createHttpServer({
      registry: metrics.registry,
      staticDir: join(PROJECT_ROOT, 'dist', 'viewer'),
      api: createApi(apiDeps(ctx, clusterApi)),
      onSocket: (ws) => hub.accept(ws),
      maxWsPayload: WS_MAX_PAYLOAD,
      auth,
      hosts: { listen: config.server.host, allowed: config.server.allowedHosts },
    });
    const server = app.server;
    closeOnStop(app, scope);
    await listen(app, config.server.host, config.server.port);
    const port = (server.address() as AddressInfo | null)?.port ?? config.server.port;
    const address = { host: config.server.host, port };
    log.info({ url: `http://${address.host}:${address.port}/` }, 'viewer and /metrics listening');
    return { server, address, clusterApi };
  },
});

function apiDeps(ctx: Needs, clusterApi: ClusterApiSlot): ApiDeps {
  const { config, plan, host, faces, style, sources, chain, log, auth, clusterCameras } = ctx;
  return {
    streams: () => clusterApi.current?.streams() ?? sources.map((s) => s.status),
    cluster: () => clusterApi.current,
    health: () => ({
      status: 'ok',
      pipeline: plan.name,
      backend: host?.backend ?? null,
      streams: sources.length,
      people: faces?.gallery.list().length ?? null,
    }),
    faces: faces
      ? { service: faces.service, alerts: faces.alerts, unknowns: faces.unknowns, audit: faces.audit }
      : undefined,
    requester: (req) => requesterOf(accessOf(req, auth), Boolean(auth.adminToken)),
    liveFace: (stream, trackId) => liveFace(ctx, chain, stream, trackId),
    styles: style
      ? {
          list: () => style.list,
          training: style.training,
          thumbnail: (name) => {
            const dir = style.styles.get(name);
            if (!dir) return null;
            try {
              return readFileSync(join(dir, 'style.jpg'));
            } catch {
              return null;
            }
          },
        }
      : undefined,
    clusterCameras: clusterCameras
      ? {
          cameras: clusterCameras,
          check: (id, given) => {
            const p = parseCamera(id, given);
            return p.ok ? undefined : p.problem;
          },
        }
      : undefined,
    maxBodyBytes: config.server.maxUploadBytes,
    docsPage: () => {
      try {
        return readFileSync(join(PROJECT_ROOT, 'dist', 'api-docs.html'));
      } catch {
        return null;
      }
    },
    log: (m, err) => log.error({ err: (err as Error)?.message }, m),
    info: (m) => log.info(m),
  };
}

async function listen(app: FastifyInstance, host: string, port: number): Promise<void> {
  try {
    await app.listen({ host, port });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new Error(`server: cannot listen on ${host}:${port}: ${err.code ?? err.message}`);
  }
}

/** Closes every connection (forceCloseConnections) and the WebSockets; never longer than the grace. */
function closeOnStop(app: FastifyInstance, scope: ModuleScope): void {
  scope.onStop(
    () =>
      new Promise<void>((r) => {
        app.close().then(
          () => r(),
          () => r(),
        );
        setTimeout(r, CLOSE_GRACE_MS).unref();
      }),
  );
}
