// The shapes the page uses. WebSocket messages come from the one definition the server uses
// (src/defs/ws.ts; types only, so zod stays out of the page's bundle); the HTTP API's below.
import type { StreamStatus } from '../../defs/ws.js';

export type { PersonEntry as Person } from '../../defs/api.js';

export type {
  ClientMessage,
  FaceAlert,
  FrameHeader,
  ServerMessage,
  StreamRates,
  StreamStatus,
  StyleChoice,
  StyleInfo,
  WireDetection as Detection,
} from '../../defs/ws.js';

export type StreamState = StreamStatus['state'];

/** A tile's status: the stream's, or 'offline' while the page has lost the server. */
export type TileStatus = Omit<StreamStatus, 'state' | 'since' | 'framesDecoded'> &
  Partial<Pick<StreamStatus, 'since' | 'framesDecoded'>> & { state: StreamState | 'offline' };
