/** "The face on camera X now": a JPEG cut from a stream's newest frame, for enrolling from the page. */
import { largestFace } from '../../faces/engine.js';
import type { RunningChain } from '../../pipeline/builder.js';
import { HttpError } from '../../server/api.js';
import { cropJpeg } from '../../util/image.js';
import type { SourcesContext } from './sources.js';

/** Crop margin and size: enough context around the face for the detector to find it again. */
const LIVE_FACE_CROP = { margin: 0.6, size: 400, quality: 92 };

/** The given track, else the largest face of the stream's latest detections. */
export async function liveFace(
  { sources, latestFrames }: SourcesContext,
  chain: RunningChain,
  stream: string,
  trackId?: number,
): Promise<Buffer> {
  if (!sources.some((s) => s.id === stream)) throw new HttpError(404, `no stream "${stream}"`);
  const frame = latestFrames.get(stream);
  const dets = chain.latest.get(stream)?.detections ?? [];
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
    return await cropJpeg(
      { width: frame.width, height: frame.height, pixels: frame.pixels },
      pick.box,
      LIVE_FACE_CROP,
    );
  } finally {
    frame.release();
  }
}
