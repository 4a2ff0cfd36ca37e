/**
 * The WebSocket boundary between the server (src/output/ws-hub.ts) and the viewer
 * (src/server/viewer/): one zod definition of every message, in both directions. The server
 * validates what clients send and what it broadcasts; the viewer uses the inferred types (and the
 * tests parse every message the server sends). A binary frame message is a 4-byte header length,
 * the JSON FrameHeader, then the JPEG.
 */
import { z } from 'zod';

const streamId = z.string().max(64);
const box = z.tuple([z.number(), z.number(), z.number(), z.number()]);

/** A face drawn on a frame: the detector's box, and what recognition decided for its track. */
export const WireDetection = z.object({
  /** [x1, y1, x2, y2] in frame pixels. */
  box,
  score: z.number(),
  landmarks: z.array(z.tuple([z.number(), z.number()])).optional(),
  label: z.string().optional(),
  trackId: z.number().int().optional(),
  similarity: z.number().optional(),
  personId: z.number().int().nullable().optional(),
  /**
   * What the track is on its evidence (docs/accuracy.md): named, unknown (enough good looks, no
   * match) or uncertain (near misses, poor looks; shown, never alerted).
   */
  outcome: z.enum(['named', 'unknown', 'uncertain']).optional(),
});
export type WireDetection = z.infer<typeof WireDetection>;

/** What a viewer wants to see of a stream: a style (null: none) and its blend strength. */
export const StyleChoice = z.object({
  style: z.string().max(64).nullable(),
  strength: z.number().min(0).max(1),
});
export type StyleChoice = z.infer<typeof StyleChoice>;

/** Metadata sent with every frame (the page draws the overlay from it). */
export const FrameHeader = z.object({
  type: z.literal('frame'),
  stream: streamId,
  seq: z.number().int(),
  /** ms epoch when the frame left ffmpeg (server clock). */
  captureTs: z.number(),
  /** ms epoch when the server sent it. */
  sentTs: z.number(),
  width: z.number().int(),
  height: z.number().int(),
  /** Detections drawn on this frame, and the frame they were computed on. */
  detections: z.array(WireDetection),
  detectionSeq: z.number().int().nullable(),
  /** True when the detections are drawn into the JPEG already (output.burnIn): no overlay. */
  annotated: z.boolean(),
  /** Pipelines with a style stage: this frame's style (null: unstyled) and blend strength. */
  style: z.string().nullable().optional(),
  strength: z.number().optional(),
});
export type FrameHeader = z.infer<typeof FrameHeader>;

export const StreamStatus = z.object({
  id: streamId,
  /** 'remote': cluster mode, another node runs the camera (its frames reach this node over NATS). */
  state: z.enum(['connecting', 'live', 'retrying', 'failed', 'stopped', 'remote']),
  /** Cluster mode: the node running the camera. */
  node: z.string().max(64).optional(),
  /** ms epoch of the last state change. */
  since: z.number(),
  attempts: z.number().int(),
  /** The last problem, in words (credentials in URLs redacted). */
  lastError: z.string().optional(),
  retryInMs: z.number().optional(),
  framesDecoded: z.number().int(),
  lastFrameTs: z.number().optional(),
  width: z.number().int().optional(),
  height: z.number().int().optional(),
  /** The full-resolution picture faces are cut from (streams[].embedFrom), every `every`-th frame. */
  fullRes: z
    .object({ width: z.number().int(), height: z.number().int(), every: z.number().int() })
    .optional(),
});
export type StreamStatus = z.infer<typeof StreamStatus>;

export const StreamRates = z.object({
  decodedFps: z.number(),
  processedFps: z.number(),
  sentFps: z.number(),
  droppedPerSecond: z.number(),
});
export type StreamRates = z.infer<typeof StreamRates>;

/** A style a viewer may pick (GET /api/styles, and the hello message). */
export const StyleInfo = z.object({
  name: z.string(),
  painting: z.string().optional(),
  arch: z.string().optional(),
  params: z.number().optional(),
  thumbnail: z.string().optional(),
  /** Set when the style's files cannot be read. */
  error: z.string().optional(),
});
export type StyleInfo = z.infer<typeof StyleInfo>;

/** A style training started from the page (POST /api/styles/training), as viewers see it. */
export const StyleTrainingJob = z.object({
  id: z.number().int(),
  /** The style's name once trained. */
  name: z.string(),
  state: z.enum(['running', 'paused', 'done', 'failed', 'cancelled']),
  step: z.number().int(),
  steps: z.number().int(),
  /** The last step's total cost. */
  loss: z.number().optional(),
  /** Why it paused, how it ended, what went wrong. */
  message: z.string().optional(),
  /** The net's output on a fixed frame (a JPEG data URL), and the step it was taken at. */
  preview: z.string().optional(),
  previewStep: z.number().int().optional(),
});
export type StyleTrainingJob = z.infer<typeof StyleTrainingJob>;

/** An alert as viewers and webhooks get it (Frigate's event fields). */
export const FaceAlert = z.object({
  id: z.number().int(),
  type: z.literal('face'),
  camera: z.string(),
  /** The person's name, or "unknown". */
  sub_label: z.string(),
  person_id: z.number().int().nullable(),
  /** Cosine similarity of the match (for unknown faces: to the nearest enrolled person). */
  score: z.number(),
  track_id: z.number().int(),
  /** Seconds since the epoch. */
  start_time: z.number(),
  has_snapshot: z.boolean(),
  snapshot_url: z.string(),
  /** Set when the face of this alert was enrolled (from its snapshot). */
  enrolled_person_id: z.number().int().nullable(),
  /** Cluster mode: the alert's id across the cluster (the same in every node's copy and webhooks). */
  event_id: z.string().optional(),
  /** Cluster mode: the node whose camera raised it. */
  node: z.string().optional(),
  /**
   * The operator's latest verdict on this alert (GET /api/alerts fills it, so a reloaded page shows
   * what was answered and can undo it); absent on live alerts, which have none yet.
   */
  feedback: z
    .object({
      id: z.number().int(),
      verdict: z.enum(['wrong', 'correct', 'ignore']),
      note: z.string().nullable(),
    })
    .nullable()
    .optional(),
});
export type FaceAlert = z.infer<typeof FaceAlert>;

/** The hello's description of the service (everything but the message type and clock). */
export const HelloInfo = z.object({
  pipeline: z.string(),
  streams: z.array(StreamStatus),
  /** Pipelines with a style stage: the styles, and what a viewer sees before picking. */
  styles: z.array(StyleInfo).optional(),
  styleDefault: StyleChoice.optional(),
  /** The pipeline recognises faces (the page shows people and alerts). */
  recognition: z.boolean(),
});
export type HelloInfo = z.infer<typeof HelloInfo>;

/** Server -> viewer events that every client gets. */
export const BroadcastMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('status'), status: StreamStatus }),
  z.object({ type: z.literal('stats'), streams: z.record(z.string(), StreamRates) }),
  z.object({ type: z.literal('alert'), alert: FaceAlert }),
  /** The gallery changed (this page, another browser or the CLI). */
  z.object({ type: z.literal('people'), version: z.number().int(), people: z.number().int() }),
  /** A style training's progress, preview and end. */
  z.object({ type: z.literal('styleTraining'), job: StyleTrainingJob }),
  /** The styles changed (one was trained): every camera's picker lists these. */
  z.object({ type: z.literal('styles'), styles: z.array(StyleInfo) }),
]);
export type BroadcastMessage = z.infer<typeof BroadcastMessage>;

/** Server -> one viewer: the greeting and the answers to its messages. */
export const ReplyMessage = z.discriminatedUnion('type', [
  HelloInfo.extend({ type: z.literal('hello'), serverTs: z.number() }),
  z.object({ type: z.literal('pong'), t: z.number(), serverTs: z.number() }),
  z.object({
    type: z.literal('subscribed'),
    streams: z.union([z.literal('*'), z.array(z.string())]),
    style: z.string().nullable().optional(),
    strength: z.number().optional(),
  }),
  z.object({ type: z.literal('error'), message: z.string() }),
]);
export type ReplyMessage = z.infer<typeof ReplyMessage>;

/** Every JSON text message the server sends. */
export const ServerMessage = z.union([BroadcastMessage, ReplyMessage]);
export type ServerMessage = z.infer<typeof ServerMessage>;

const streamList = z.union([z.literal('*'), z.array(streamId).max(256)]);

/** Viewer -> server. */
export const ClientMessage = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('subscribe'),
    streams: streamList,
    /** Pipelines with a style stage: the style for these streams (null: none). */
    style: z.string().max(64).nullable().optional(),
    /** Blend of styled and original, 0..1. */
    strength: z.number().min(0).max(1).optional(),
  }),
  z.object({ type: z.literal('unsubscribe'), streams: streamList }),
  z.object({ type: z.literal('ping'), t: z.number() }),
  /** The page drew frame `seq`: capture-to-display latency, for the metrics. */
  z.object({
    type: z.literal('displayed'),
    stream: streamId,
    seq: z.number().int(),
    latencyMs: z.number().min(0).max(600_000),
  }),
]);
export type ClientMessage = z.infer<typeof ClientMessage>;
