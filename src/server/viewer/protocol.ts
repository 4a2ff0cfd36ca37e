// The WebSocket protocol and HTTP API shapes the page uses (see src/output/ws-hub.ts, src/server/api.ts).

export interface Detection {
  /** [x1, y1, x2, y2] in frame pixels. */
  box: [number, number, number, number];
  score: number;
  landmarks?: Array<[number, number]>;
  /** recognize pipeline: the track, its identity ("unknown" when nobody matched) and similarity. */
  trackId?: number;
  label?: string;
  similarity?: number;
  personId?: number | null;
}

export interface FrameHeader {
  stream: string;
  seq: number;
  /** ms epoch when the frame left ffmpeg (server clock). */
  captureTs: number;
  sentTs: number;
  width: number;
  height: number;
  detections: Detection[];
  detectionSeq: number | null;
  /** Boxes are burnt into the JPEG already (output.burnIn): no overlay. */
  annotated: boolean;
  /** Pipelines with a style stage: this frame's style (null: unstyled) and blend strength. */
  style?: string | null;
  strength?: number;
}

/** A style a viewer may pick (GET /api/styles, and the hello message). */
export interface StyleInfo {
  name: string;
  painting?: string;
  arch?: string;
  params?: number;
  thumbnail?: string;
  /** Set when the style's files cannot be read. */
  error?: string;
}

export interface StyleChoice {
  style: string | null;
  strength: number;
}

export type StreamState = 'connecting' | 'live' | 'retrying' | 'failed' | 'stopped' | string;

export interface StreamStatus {
  id: string;
  state: StreamState;
  since?: number;
  lastError?: string;
  attempts: number;
  retryInMs?: number;
  width?: number;
  height?: number;
}

export interface StreamRates {
  decodedFps: number;
  processedFps: number;
  sentFps: number;
  droppedPerSecond: number;
}

export interface FaceAlert {
  id: number;
  type: 'face';
  camera: string;
  /** The person's name, or "unknown". */
  sub_label: string;
  person_id: number | null;
  score: number;
  track_id: number;
  /** Seconds since the epoch. */
  start_time: number;
  has_snapshot: boolean;
  snapshot_url: string;
}

export interface Person {
  id: number;
  name: string;
  createdAt: number;
  photos: number;
  embedded: number;
  thumbnail_url: string;
}

export type ServerMessage =
  | {
      type: 'hello';
      serverTs: number;
      pipeline: string;
      streams: StreamStatus[];
      /** Pipelines with a style stage: the styles, and what a viewer sees before picking. */
      styles?: StyleInfo[];
      styleDefault?: StyleChoice;
    }
  | { type: 'status'; status: StreamStatus }
  | { type: 'stats'; streams: Record<string, StreamRates> }
  | { type: 'alert'; alert: FaceAlert }
  /** The gallery changed (this page, another browser or the CLI). */
  | { type: 'people'; version: number; people: number }
  | { type: 'pong'; t: number; serverTs: number }
  | { type: 'subscribed'; streams: '*' | string[]; style?: string | null; strength?: number }
  | { type: 'error'; message: string };
