import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { ModelEngineReport } from '../inference/protocol.js';
import { frameCopies } from '../util/frame-copies.js';

/** Latency buckets in seconds: 1 ms .. 10 s. */
export const LATENCY_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10,
];
/** Time-to-name buckets in seconds: 0.1 .. 10 s, finest around the 1 s / 2 s targets. */
export const TIME_TO_NAME_BUCKETS = [
  0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 7.5, 10,
];
/** How a face track ended (vigil_tracks_ended_total). */
export const TRACK_OUTCOMES = ['named', 'unnamed', 'too_small'] as const;
export type TrackOutcome = (typeof TRACK_OUTCOMES)[number];
export const STREAM_STATES = ['connecting', 'live', 'retrying', 'failed', 'stopped'] as const;
export type StreamStateName = (typeof STREAM_STATES)[number];

/** Why a frame was not carried further. */
export type DropReason =
  | 'inference_busy' // replaced in the stream's inference slot by a newer frame (latest-frame-wins)
  | 'encode_busy' // replaced while the stream's previous frame was still being encoded
  | 'client_slow' // a WebSocket client's send buffer was over its bound
  | 'pool_exhausted' // no free frame buffer: downstream held every buffer of the stream's pool
  | 'full_pool_exhausted' // no free full-resolution buffer: that frame's faces are cut from the detect frame
  | 'inference_error'; // the batch failed (worker crash, model error)

/** Frames through the pipeline and their latencies. */
function frameMetrics(registers: Registry[]) {
  return {
    framesDecoded: new Counter({
      name: 'vigil_frames_decoded_total',
      help: 'Frames read from ffmpeg',
      labelNames: ['stream'],
      registers,
    }),
    framesProcessed: new Counter({
      name: 'vigil_frames_processed_total',
      help: 'Frames that went through inference',
      labelNames: ['stream'],
      registers,
    }),
    framesSent: new Counter({
      name: 'vigil_frames_sent_total',
      help: 'Encoded frames handed to at least one WebSocket client',
      labelNames: ['stream'],
      registers,
    }),
    framesDropped: new Counter({
      name: 'vigil_frames_dropped_total',
      help: 'Frames dropped, by reason (client_slow counts once per client and frame)',
      labelNames: ['stream', 'reason'],
      registers,
    }),
    stageDuration: new Histogram({
      name: 'vigil_stage_duration_seconds',
      help: 'Time spent per frame in a stage: decode (pipe read), queue_wait (waiting for inference), inference (share of its batch), encode, send',
      labelNames: ['stage', 'stream'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    captureToSend: new Histogram({
      name: 'vigil_capture_to_send_seconds',
      help: 'From the frame leaving ffmpeg to its JPEG handed to the WebSocket',
      labelNames: ['stream'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    captureToDisplay: new Histogram({
      name: 'vigil_capture_to_display_seconds',
      help: 'From the frame leaving ffmpeg to its display in a browser, as reported by the page',
      labelNames: ['stream'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
  };
}

/** Batched inference calls. */
function batchMetrics(registers: Registry[]) {
  return {
    inferenceDuration: new Histogram({
      name: 'vigil_inference_duration_seconds',
      help: 'Wall time of one batched inference call in a worker (preprocess + model + decode)',
      labelNames: ['model', 'backend'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    batchSize: new Histogram({
      name: 'vigil_batch_size',
      help: 'Frames per batched inference call',
      labelNames: ['model'],
      buckets: [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64],
      registers,
    }),
  };
}

/** Stream states and reconnects, WebSocket clients. */
function streamMetrics(registers: Registry[]) {
  return {
    streamState: new Gauge({
      name: 'vigil_stream_state',
      help: 'Stream state: 1 for the current state, 0 for the others',
      labelNames: ['stream', 'state'],
      registers,
    }),
    reconnects: new Counter({
      name: 'vigil_stream_reconnects_total',
      help: 'Disconnects followed by a reconnect attempt, by cause (exit, watchdog, error)',
      labelNames: ['stream', 'cause'],
      registers,
    }),
    wsClients: new Gauge({ name: 'vigil_ws_clients', help: 'Connected WebSocket clients', registers }),
    wsBytesSent: new Counter({
      name: 'vigil_ws_sent_bytes_total',
      help: 'Bytes queued to WebSocket clients',
      registers,
    }),
  };
}

/** Detections, frames waiting for inference, the engine in use, worker restarts. */
function inferenceMetrics(registers: Registry[]) {
  return {
    detections: new Counter({
      name: 'vigil_detections_total',
      help: 'Objects (faces) detected',
      labelNames: ['stream', 'model'],
      registers,
    }),
    inferencePending: new Gauge({
      name: 'vigil_inference_pending_frames',
      help: 'Frames waiting in per-stream inference slots (bounded by the stream count)',
      registers,
    }),
    backendInfo: new Gauge({
      name: 'vigil_inference_backend_info',
      help: 'Inference engine and backend in use (value 1)',
      labelNames: ['engine', 'backend'],
      registers,
    }),
    workerRestarts: new Counter({
      name: 'vigil_inference_worker_restarts_total',
      help: 'Inference workers restarted after a crash',
      registers,
    }),
  };
}

/** Recognitions, alerts and the gallery. */
function recognitionMetrics(registers: Registry[]) {
  return {
    recognitions: new Counter({
      name: 'vigil_recognitions_total',
      help: 'Face recognitions (one per track and refresh), by result: known or unknown',
      labelNames: ['stream', 'result'],
      registers,
    }),
    matchSimilarity: new Histogram({
      name: 'vigil_match_similarity',
      help: 'Cosine similarity of the best gallery match of each recognition',
      labelNames: ['stream'],
      buckets: [0.1, 0.2, 0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.8, 0.9, 1],
      registers,
    }),
    timeToName: new Histogram({
      name: 'vigil_time_to_name_seconds',
      // both ends on the wall clock: the first look's capture time (when its frame left ffmpeg) and
      // the moment the named decision goes to the alert stage; decoding before ffmpeg is not counted
      help: 'Per track, from the capture of its first usable look (a face at least minFacePx wide, or the gallery change that made it nameable) to its first named decision',
      labelNames: ['stream'],
      buckets: TIME_TO_NAME_BUCKETS,
      registers,
    }),
    tracksEnded: new Counter({
      name: 'vigil_tracks_ended_total',
      help: 'Face tracks ended (unseen past maxAgeMs, or restarted on another face), by outcome: named, unnamed (usable looks, never named: strangers, poor looks) or too_small (no usable look)',
      labelNames: ['stream', 'outcome'],
      registers,
    }),
    alerts: new Counter({
      name: 'vigil_alerts_total',
      // No person label: /metrics is readable without a token (server.auth.protectMetrics off), and
      // who was seen where is personal data; per-person history is GET /api/alerts (token-guarded).
      help: 'Alerts fired, by camera and kind (known: an enrolled person; unknown: a face nobody enrolled)',
      labelNames: ['stream', 'kind'],
      registers,
    }),
    galleryPeople: new Gauge({
      name: 'vigil_gallery_people',
      help: 'People enrolled in the gallery',
      registers,
    }),
    galleryEmbeddings: new Gauge({
      name: 'vigil_gallery_embeddings',
      help: 'Gallery embeddings in the current embedding space (one per enrolled photo)',
      registers,
    }),
  };
}

/** Worker tensors and how each model's engine was chosen. */
function engineMetrics(registers: Registry[]) {
  return {
    workerTensors: new Gauge({
      name: 'vigil_inference_worker_tensors',
      help: 'Live tensors in the inference worker after its last batch (flat over time: no leak)',
      registers,
    }),
    modelEngine: new Gauge({
      name: 'vigil_inference_model_engine_info',
      help: 'Engine (tfjs or onnx) and backend running each model (value 1)',
      labelNames: ['model', 'engine', 'backend'],
      registers,
    }),
    engineTiming: new Gauge({
      name: 'vigil_inference_engine_startup_seconds',
      help: 'Start-up timing of each model per engine: one batch-1 call (median), what inference.engine auto chooses by',
      labelNames: ['model', 'engine'],
      registers,
    }),
    engineFallbacks: new Counter({
      name: 'vigil_inference_engine_fallbacks_total',
      help: 'Models that ONNX Runtime should have run but tfjs runs instead (conversion failed, not equivalent, ORT unavailable); the log says why',
      labelNames: ['model'],
      registers,
    }),
    onnxEquivalent: new Gauge({
      name: 'vigil_inference_onnx_equivalent',
      help: 'Equivalence check of the converted ONNX model against tfjs at start-up: 1 within tolerance, 0 not (then unused)',
      labelNames: ['model'],
      registers,
    }),
  };
}

/** Style transfer frames and errors. */
function styleMetrics(registers: Registry[]) {
  return {
    styleErrors: new Counter({
      name: 'vigil_style_errors_total',
      help: 'Frames sent unstyled because their style could not run (missing or corrupt weights); the log says why',
      labelNames: ['stream', 'style'],
      registers,
    }),
    styleFrames: new Counter({
      name: 'vigil_style_frames_total',
      help: 'Frames stylised (once per stream, style and frame, whatever the number of viewers)',
      labelNames: ['stream', 'style'],
      registers,
    }),
  };
}

/** Main-thread costs: frame copies and event-loop lag. */
/** Alert sinks (src/output/sinks/): deliveries per sink, and the MQTT connection and queue. */
function sinkMetrics(registers: Registry[]) {
  return {
    alertDeliveries: new Counter({
      name: 'vigil_alert_deliveries_total',
      help: 'Alerts handed to a sink (webhook, websocket, mqtt), by result: delivered, retried (an attempt failed or the receiver was away, tried again), failed (given up), dropped (queue full or shutdown)',
      labelNames: ['sink', 'result'],
      registers,
    }),
    mqttQueued: new Gauge({
      name: 'vigil_mqtt_queued',
      help: 'Alerts waiting for the MQTT broker (bounded by mqtt.maxQueued; past it the oldest is dropped)',
      registers,
    }),
    mqttConnected: new Gauge({
      name: 'vigil_mqtt_connected',
      help: '1 while connected to the MQTT broker',
      registers,
    }),
  };
}

function mainThreadMetrics(registers: Registry[]) {
  return {
    frameCopies: new Counter({
      name: 'vigil_frame_copies_total',
      help: 'Copies of frame pixels made on the main thread, by where they happen (src/util/frame-copies.ts); frames of the live path cross to the workers shared, so detect, recognize and style make none',
      labelNames: ['site'],
      registers,
      collect() {
        // counted in a module-level tally (also read by tests and benchmarks), exported as it stands
        this.reset();
        for (const [site, n] of Object.entries(frameCopies())) this.inc({ site }, n);
      },
    }),
    eventLoopLag: new Gauge({
      name: 'vigil_event_loop_lag_seconds',
      help: 'Main-thread event-loop lag, p99 over the last scrape interval',
      registers,
    }),
  };
}

/** Every metric Vigil exports, on one registry (not the global one, so tests can make their own). */
export class VigilMetrics {
  readonly registry = new Registry();
  readonly framesDecoded: Counter<'stream'>;
  readonly framesProcessed: Counter<'stream'>;
  readonly framesSent: Counter<'stream'>;
  readonly framesDropped: Counter<'stream' | 'reason'>;
  readonly stageDuration: Histogram<'stage' | 'stream'>;
  readonly captureToSend: Histogram<'stream'>;
  readonly captureToDisplay: Histogram<'stream'>;
  readonly inferenceDuration: Histogram<'model' | 'backend'>;
  readonly batchSize: Histogram<'model'>;
  readonly streamState: Gauge<'stream' | 'state'>;
  readonly reconnects: Counter<'stream' | 'cause'>;
  readonly wsClients: Gauge;
  readonly wsBytesSent: Counter;
  readonly detections: Counter<'stream' | 'model'>;
  readonly inferencePending: Gauge;
  readonly backendInfo: Gauge<'backend' | 'engine'>;
  readonly workerRestarts: Counter;
  readonly workerTensors: Gauge;
  readonly eventLoopLag: Gauge;
  readonly styleErrors: Counter<'stream' | 'style'>;
  readonly styleFrames: Counter<'stream' | 'style'>;
  readonly recognitions: Counter<'stream' | 'result'>;
  readonly matchSimilarity: Histogram<'stream'>;
  readonly timeToName: Histogram<'stream'>;
  readonly tracksEnded: Counter<'stream' | 'outcome'>;
  /** The last time-to-name values per stream (seconds, oldest first): exact percentiles for tests and benches. */
  readonly recentTimeToName = new Map<string, number[]>();
  readonly alerts: Counter<'stream' | 'kind'>;
  readonly galleryPeople: Gauge;
  readonly galleryEmbeddings: Gauge;
  readonly modelEngine: Gauge<'model' | 'engine' | 'backend'>;
  readonly engineTiming: Gauge<'model' | 'engine'>;
  readonly engineFallbacks: Counter<'model'>;
  readonly onnxEquivalent: Gauge<'model'>;
  readonly frameCopies: Counter<'site'>;
  readonly alertDeliveries: Counter<'sink' | 'result'>;
  readonly mqttQueued: Gauge;
  readonly mqttConnected: Gauge;

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (opts.defaultMetrics !== false)
      collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 10 });
    // created group by group in this order: the order /metrics lists them in
    const frame = frameMetrics(registers);
    this.framesDecoded = frame.framesDecoded;
    this.framesProcessed = frame.framesProcessed;
    this.framesSent = frame.framesSent;
    this.framesDropped = frame.framesDropped;
    this.stageDuration = frame.stageDuration;
    this.captureToSend = frame.captureToSend;
    this.captureToDisplay = frame.captureToDisplay;
    const batch = batchMetrics(registers);
    this.inferenceDuration = batch.inferenceDuration;
    this.batchSize = batch.batchSize;
    const stream = streamMetrics(registers);
    this.streamState = stream.streamState;
    this.reconnects = stream.reconnects;
    this.wsClients = stream.wsClients;
    this.wsBytesSent = stream.wsBytesSent;
    const inference = inferenceMetrics(registers);
    this.detections = inference.detections;
    this.inferencePending = inference.inferencePending;
    this.backendInfo = inference.backendInfo;
    this.workerRestarts = inference.workerRestarts;
    const recognition = recognitionMetrics(registers);
    this.recognitions = recognition.recognitions;
    this.matchSimilarity = recognition.matchSimilarity;
    this.timeToName = recognition.timeToName;
    this.tracksEnded = recognition.tracksEnded;
    this.alerts = recognition.alerts;
    this.galleryPeople = recognition.galleryPeople;
    this.galleryEmbeddings = recognition.galleryEmbeddings;
    const engine = engineMetrics(registers);
    this.workerTensors = engine.workerTensors;
    this.modelEngine = engine.modelEngine;
    this.engineTiming = engine.engineTiming;
    this.engineFallbacks = engine.engineFallbacks;
    this.onnxEquivalent = engine.onnxEquivalent;
    const style = styleMetrics(registers);
    this.styleErrors = style.styleErrors;
    this.styleFrames = style.styleFrames;
    const mainThread = mainThreadMetrics(registers);
    this.frameCopies = mainThread.frameCopies;
    this.eventLoopLag = mainThread.eventLoopLag;
    const sinks = sinkMetrics(registers);
    this.alertDeliveries = sinks.alertDeliveries;
    this.mqttQueued = sinks.mqttQueued;
    this.mqttConnected = sinks.mqttConnected;
  }

  /** Sets the state gauge of a stream: 1 for `state`, 0 for the others. */
  /**
   * Cluster mode: every series of this registry gets `node="<name>"` (prom-client adds default
   * labels when /metrics is rendered), so each node's metrics stay apart in one Prometheus.
   */
  labelNode(node: string): void {
    this.registry.setDefaultLabels({ node });
  }

  setStreamState(stream: string, state: StreamStateName): void {
    for (const s of STREAM_STATES) this.streamState.set({ stream, state: s }, s === state ? 1 : 0);
  }

  /** A camera removed from the cluster (src/sources/source-set.ts): no state series left for it. */
  forgetStreamState(stream: string): void {
    for (const s of STREAM_STATES) this.streamState.remove({ stream, state: s });
  }

  /** Exports how each model's engine was chosen (inference host start-up). */
  recordEngines(reports: ModelEngineReport[]): void {
    for (const r of reports) {
      this.modelEngine.set({ model: r.model, engine: r.engine, backend: r.backend }, 1);
      this.backendInfo.set({ engine: r.engine, backend: r.backend }, 1);
      for (const [engine, ms] of Object.entries(r.timings ?? {}))
        this.engineTiming.set({ model: r.model, engine }, (ms as number) / 1000);
      if (r.equivalence) this.onnxEquivalent.set({ model: r.model }, r.equivalence.ok ? 1 : 0);
      if (r.fallback) this.engineFallbacks.inc({ model: r.model });
    }
  }

  /** One track's time to name (seconds): the histogram, and the last 1000 values of the stream. */
  observeTimeToName(stream: string, seconds: number): void {
    this.timeToName.observe({ stream }, seconds);
    const recent = this.recentTimeToName.get(stream) ?? [];
    this.recentTimeToName.set(stream, recent);
    recent.push(seconds);
    if (recent.length > 1000) recent.shift();
  }

  drop(stream: string, reason: DropReason, n = 1): void {
    this.framesDropped.inc({ stream, reason }, n);
  }
}
