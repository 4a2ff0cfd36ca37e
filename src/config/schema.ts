import { z } from 'zod';
import { DetectOverrideSchema } from '../faces/detect/settings.js';
import { AlertSinksSchema, MqttSinkSchema } from '../output/sinks/config.js';

/** Reconnect policy of a stream: capped exponential backoff. */
export const ReconnectSchema = z
  .object({
    initialMs: z.number().int().min(10).max(60_000).default(500),
    maxMs: z.number().int().min(10).max(600_000).default(15_000),
    factor: z.number().min(1).max(10).default(2),
    /** Consecutive failed attempts before the stream is marked `failed` (0: retry forever). */
    maxAttempts: z.number().int().min(0).default(0),
  })
  .strict();

const Size = z.number().int().min(16).max(7680);

export const StreamSchema = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, "_" or "-"'),
    /** rtsp://, rtsps://, http(s):// or a file path / file:// URL. */
    url: z.string().min(1).optional(),
    /** A V4L2 camera device such as /dev/video0. */
    device: z.string().startsWith('/dev/').optional(),
    /** An ffmpeg lavfi source graph, e.g. "testsrc2=size=640x360:rate=15". */
    lavfi: z.string().min(1).optional(),
    /** The embedded demo source: sample photos moved by a zoompan filter. */
    demo: z.boolean().optional(),
    width: Size.default(640),
    height: Size.default(360),
    detectFps: z.number().positive().max(60).default(5),
    displayFps: z.number().positive().max(60).default(15),
    /** Files only: loop forever. */
    loop: z.boolean().default(true),
    /** Files only: play at real-time pace (ffmpeg -re). */
    realtime: z.boolean().default(true),
    rtspTransport: z.enum(['tcp', 'udp']).default('tcp'),
    /** RTSP socket timeout handed to ffmpeg. */
    socketTimeoutSeconds: z.number().positive().max(300).default(5),
    /** No first frame this long after ffmpeg started: a failed connection (many streams starting at once are slow). */
    connectTimeoutSeconds: z.number().positive().max(600).default(20),
    /** No frame for this long: ffmpeg is killed and the stream reconnects. */
    watchdogSeconds: z.number().positive().max(600).default(8),
    /** V4L2 input options for `device` streams. */
    v4l2: z
      .object({
        inputFormat: z.string().optional(),
        framerate: z.number().positive().optional(),
        videoSize: z
          .string()
          .regex(/^\d+x\d+$/)
          .optional(),
      })
      .strict()
      .default({}),
    /** Extra ffmpeg input options, appended verbatim (advanced). */
    inputOptions: z.array(z.string()).default([]),
    reconnect: ReconnectSchema.default(ReconnectSchema.parse({})),
    /**
     * Where faces are cut for the embedding and the alert snapshot: `detect` = the width x height
     * detection frame; `full` = a full-resolution picture ffmpeg outputs from the same decode (every
     * K-th frame, the ones detected); `auto` = full when the source is at least 1.5x the detection
     * size (probed at start), else detect.
     */
    embedFrom: z.enum(['auto', 'detect', 'full']).default('auto'),
    /** Width of the full-resolution picture at most (the height follows width x height's aspect). */
    fullWidth: z.number().int().min(32).max(3840).default(1920),
    /** Full-resolution pictures per stream held at once (memory: fullFrames x width x height x 3). */
    fullFrames: z.number().int().min(2).max(32).default(6),
    /** This camera's detector settings over the pipeline's detect stage (tiles and a size floor for a distant camera). */
    detect: DetectOverrideSchema.optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    const given = (['url', 'device', 'lavfi', 'demo'] as const).filter(
      (k) => s[k] !== undefined && s[k] !== false,
    );
    if (given.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message: `exactly one of url, device, lavfi or demo is required (got ${given.length ? given.join(', ') : 'none'})`,
      });
    }
    if (s.width % 2 || s.height % 2)
      ctx.addIssue({ code: 'custom', path: ['width'], message: 'width and height must be even' });
    if (s.fullWidth % 2) ctx.addIssue({ code: 'custom', path: ['fullWidth'], message: 'must be even' });
    if (s.embedFrom === 'full' && s.fullWidth <= s.width)
      ctx.addIssue({
        code: 'custom',
        path: ['fullWidth'],
        message: `must be larger than width (${s.width}) with embedFrom: full`,
      });
  });

/** An API token: the same rule for the config file and VIGIL_TOKEN / VIGIL_ADMIN_TOKEN. */
export const AccessToken = z.string().min(16, 'use at least 16 characters');

/** A host name or address as it appears in a Host header (lower case, no port, no scheme). */
const HostName = z
  .string()
  .min(1)
  .max(253)
  .regex(
    /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+|\*\.[a-z0-9.-]+)$/i,
    'a host name such as vigil.example.org, *.example.org or [::1], without port',
  )
  .transform((h) => h.toLowerCase());

export const ServerSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    /**
     * Host names (the HTTP Host header, without the port) the server answers besides loopback
     * ones (localhost, *.localhost, 127.0.0.0/8, ::1) and the listen address: a DNS-rebinding
     * page reaches 127.0.0.1 under its own name and is refused. Checked whenever this list is set,
     * and always while listening on loopback.
     */
    allowedHosts: z.array(HostName).default([]),
    port: z.number().int().min(0).max(65535).default(8080),
    /** Largest accepted request body (image uploads). */
    maxUploadBytes: z
      .number()
      .int()
      .min(1024)
      .max(512 * 1024 * 1024)
      .default(20 * 1024 * 1024),
    auth: z
      .object({
        /** Required for the API and WebSocket (Bearer header or ?token=); env VIGIL_TOKEN. */
        token: AccessToken.optional(),
        /** Required for enrollment, renaming and deletion; env VIGIL_ADMIN_TOKEN. */
        adminToken: AccessToken.optional(),
        /** Also require the token for /metrics (Prometheus: authorization.credentials). */
        protectMetrics: z.boolean().default(false),
        /** Other origins allowed to call the API / open the WebSocket (CORS is closed by default). */
        allowedOrigins: z.array(z.url()).default([]),
      })
      .strict()
      .default({ protectMetrics: false, allowedOrigins: [] }),
  })
  .strict();

const EngineChoiceSchema = z.enum(['auto', 'tfjs', 'onnx']);

/** ONNX Runtime session options. */
export const OnnxSchema = z
  .object({
    /** Intra-op threads per worker; 0 = the machine's cores divided by `inference.workers`. */
    intraOpThreads: z.number().int().min(0).max(256).default(0),
    /** Execution providers in order of preference; cpu is always the last resort (GPU hosts: cuda, tensorrt). */
    executionProviders: z
      .array(z.enum(['cpu', 'cuda', 'tensorrt']))
      .min(1)
      .default(['cpu']),
    /** Where converted models are cached (default: `<dataDir>/onnx`). */
    cacheDir: z.string().min(1).optional(),
  })
  .strict();

export const InferenceSchema = z
  .object({
    /** auto: tensorflow (tfjs-node-gpu / tfjs-node, if installed) > wasm > cpu. */
    backend: z.enum(['auto', 'tensorflow', 'wasm', 'cpu']).default('auto'),
    /** Worker threads, each with its own single-threaded backend. */
    workers: z.number().int().min(1).max(64).default(1),
    /** Cross-stream batching: at most this many frames per inference call. */
    maxBatch: z.number().int().min(1).max(256).default(8),
    /** ...or whatever has arrived this long after the first frame of a batch. */
    maxWaitMs: z.number().min(0).max(10_000).default(10),
    /** Artificial delay per batch (testing latest-frame-wins; never in production). */
    debugDelayMs: z.number().min(0).max(60_000).default(0),
    /**
     * Engine per model: auto = ONNX Runtime (Vigil's own conversion) when it passes its equivalence
     * check and is faster in a short start-up timing, else tfjs; tfjs; onnx (falls back to tfjs, with a
     * log line and a metric, when the conversion fails or misses its tolerance).
     */
    engine: EngineChoiceSchema.default('auto'),
    /** Per-model overrides: `{faceres: {engine: tfjs}}`. */
    models: z.record(z.string().min(1), z.object({ engine: EngineChoiceSchema }).strict()).default({}),
    onnx: OnnxSchema.default(OnnxSchema.parse({})),
  })
  .strict();

export const OutputSchema = z
  .object({
    jpegQuality: z.number().int().min(1).max(100).default(75),
    /** A WebSocket client whose unsent bytes exceed this skips frames until it catches up. */
    maxBufferedBytes: z
      .number()
      .int()
      .min(1024)
      .default(2 * 1024 * 1024),
    /**
     * Draw boxes and labels into the JPEG itself (for consumers without an overlay). The page draws
     * them from the metadata instead, crisp and toggleable, so the default is off.
     */
    burnIn: z.boolean().default(false),
  })
  .strict();

/** One node's place in a cluster (src/cluster/, docs/cluster.md); absent: the embedded single node. */
export const ClusterSchema = z
  .object({
    /** JetStream broker: camera leases (KV), alerts (stream), live frames across nodes. */
    nats: z.string().regex(/^(nats|tls):\/\/[^\s/]+$/, 'a nats:// URL such as nats://nats:4222'),
    /** The shared gallery and the stored alerts. */
    postgres: z
      .string()
      .regex(/^postgres(ql)?:\/\/\S+$/, 'a postgres:// URL such as postgres://vigil@db:5432/vigil'),
    /** This node's name: unique in the cluster, the `node` label of its metrics. */
    node: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, "_" or "-"'),
    /** At most this many cameras on this node (fewer while its measured drop rate is high). */
    maxCameras: z.number().int().min(0).max(1000).default(16),
    /** A lease not renewed for this long expires and its camera moves to another node. */
    leaseTtlMs: z.number().int().min(1000).max(120_000).default(4000),
    /** How often leases are renewed and free cameras looked for. */
    heartbeatMs: z.number().int().min(100).max(40_000).default(1000),
    /**
     * Where the other nodes and Prometheus reach this node's HTTP server (the `url` of its
     * vigil_nodes heartbeat); default http://<server.host>:<port> (the host name for 0.0.0.0).
     */
    advertiseUrl: z
      .string()
      .regex(/^https?:\/\/[^\s/]+\/?$/, 'an http:// URL of this node such as http://node-1:8080')
      .optional(),
    /** Write a Prometheus file_sd JSON of the live nodes here (atomically, refreshed every few seconds). */
    prometheusFileSd: z.string().min(1).optional(),
    /** Reconnect backoff to NATS and PostgreSQL at start-up. */
    retry: z
      .object({
        initialMs: z.number().int().min(10).max(60_000).default(250),
        maxMs: z.number().int().min(10).max(600_000).default(10_000),
      })
      .strict()
      .default({ initialMs: 250, maxMs: 10_000 }),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.heartbeatMs * 3 > c.leaseTtlMs)
      ctx.addIssue({
        code: 'custom',
        path: ['heartbeatMs'],
        message: `must be at most a third of leaseTtlMs (${c.leaseTtlMs}): a lease must survive two missed renewals`,
      });
  });

export const ConfigSchema = z
  .object({
    server: ServerSchema.default(ServerSchema.parse({})),
    log: z
      .object({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('info') })
      .strict()
      .default({ level: 'info' }),
    /** Name of a pipeline definition in pipelines/ (or a path to a YAML file). */
    pipeline: z.string().min(1).default('detect'),
    /** Where Vigil keeps its own data (gallery, snapshots, caches). */
    dataDir: z.string().min(1).default('data'),
    demoGallery: z
      .boolean()
      .default(false)
      .describe(
        'Recognise demo people on the embedded demo: when every stream is `demo: true`, recognition uses a separate gallery (<dataDir>/demo-gallery.db) enrolled at first start from the demo photos; your own gallery (<dataDir>/vigil.db) is never touched. config/default.yaml turns it on; false uses your own gallery.',
      ),
    /** ffmpeg binary; default: system ffmpeg, else @ffmpeg-installer's. */
    ffmpegPath: z.string().optional(),
    inference: InferenceSchema.default(InferenceSchema.parse({})),
    output: OutputSchema.default(OutputSchema.parse({})),
    /**
     * Face images are personal data: alert snapshots are deleted after `snapshotDays`, alerts after
     * `alertDays` (0 keeps them forever). Purged hourly and at start-up.
     */
    retention: z
      .object({
        snapshotDays: z.number().min(0).default(30),
        alertDays: z.number().min(0).default(365),
      })
      .strict()
      .default({ snapshotDays: 30, alertDays: 365 }),
    /** Alert sinks besides MQTT: webhooks (POST, retried on failure) and the viewers (src/output/sinks/). */
    alerts: AlertSinksSchema.default(AlertSinksSchema.parse({})),
    /** MQTT (alerts, camera states, Home Assistant discovery); off unless set here or by VIGIL_MQTT_URL. */
    mqtt: MqttSinkSchema.optional(),
    /** Cluster mode (NATS JetStream + PostgreSQL); off unless set here or by VIGIL_CLUSTER_NATS. */
    cluster: ClusterSchema.optional(),
    streams: z.array(StreamSchema).min(1, 'at least one stream is required'),
  })
  .strict()
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.streams.forEach((s, i) => {
      if (seen.has(s.id))
        ctx.addIssue({
          code: 'custom',
          path: ['streams', i, 'id'],
          message: `duplicate stream id "${s.id}"`,
        });
      seen.add(s.id);
    });
  });

export type VigilConfig = z.infer<typeof ConfigSchema>;
export type AuthConfig = z.infer<typeof ServerSchema>['auth'];
export type ClusterConfig = z.infer<typeof ClusterSchema>;
export type StreamConfig = z.infer<typeof StreamSchema>;
export type ReconnectConfig = z.infer<typeof ReconnectSchema>;
export type InferenceConfig = z.infer<typeof InferenceSchema>;
export type OutputConfig = z.infer<typeof OutputSchema>;
