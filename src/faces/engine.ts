import type { Detection } from '../inference/contract.js';
import { InferenceHost } from '../inference/host.js';
import { manifest } from '../inference/model-loader.js';
import type { EngineSettings } from '../inference/protocol.js';
import type { BackendPreference } from '../inference/tfjs-engine.js';
import { type RgbImage, shared } from '../util/rgb.js';
import { DEFAULT_DETECTOR, type DetectorOptions } from './detect/blazeface.js';
import { detectTask, embedTask } from './tasks/index.js';

export interface FaceEngineOptions {
  backend: BackendPreference;
  workers?: number;
  detector?: Partial<DetectorOptions> & { model?: string; tiles?: number };
  embedModel: string;
  align: boolean;
  context?: number;
  /** Engine per model (ONNX Runtime or tfjs, src/inference/onnx); absent: tfjs only. */
  engines?: EngineSettings;
}

export interface AnalyzedFace extends Detection {
  embedding: Float32Array;
  /** Best gallery rows and their cosine similarities (when the host has a gallery). */
  rows: number[];
  sims: number[];
  /** The gallery version the worker matched against (undefined: it had none). */
  galleryVersion: number | undefined;
}

/**
 * Still images through the same worker tasks the live pipeline uses: detect, align, embed, match.
 * Used by enrollment, identify / verify and evaluation.
 */
export class FaceEngine {
  readonly host: InferenceHost;
  private readonly ownHost: boolean;
  /** `host`: share a running host (the service's); otherwise the engine starts its own. */
  constructor(
    readonly opts: FaceEngineOptions,
    host?: InferenceHost,
  ) {
    manifest(opts.embedModel); // fail early on an unknown model name
    this.ownHost = !host;
    this.host =
      host ??
      new InferenceHost({
        workers: opts.workers ?? 1,
        backend: opts.backend,
        engines: opts.engines,
        tasks: [
          detectTask({
            model: opts.detector?.model ?? 'blazeface',
            options: { ...DEFAULT_DETECTOR, ...opts.detector },
            tiles: opts.detector?.tiles,
          }),
          embedTask({ model: opts.embedModel, align: opts.align, context: opts.context }),
        ],
      });
  }

  async start(): Promise<void> {
    if (this.ownHost) await this.host.start();
  }

  async close(): Promise<void> {
    if (this.ownHost) await this.host.close();
  }

  private async ready(): Promise<void> {
    // the host queues requests when every worker is busy
  }

  async detect(img: RgbImage): Promise<Detection[]> {
    await this.ready();
    return (await this.host.run('detect', [img])).result[0] ?? [];
  }

  /** Embeds the given faces of one image (all in one batch). */
  async embedFaces(
    img: RgbImage,
    faces: Array<Pick<Detection, 'box' | 'landmarks'>>,
    topK = 5,
  ): Promise<AnalyzedFace[]> {
    if (!faces.length) return [];
    await this.ready();
    const { result: r } = await this.host.run('embed', [img], {
      faces: faces.map((f) => ({ frame: 0, box: f.box, landmarks: f.landmarks })),
      topK,
    });
    return r.faces.map((e, i) => ({
      galleryVersion: r.galleryVersion,
      ...(faces[i] as Detection),
      score: (faces[i] as Detection).score ?? 1,
      embedding: e.embedding,
      rows: e.rows,
      sims: e.sims,
    }));
  }

  /** Every face of an image, detected and embedded. */
  async analyze(img: RgbImage, topK = 5): Promise<AnalyzedFace[]> {
    // one copy to a shared buffer for both requests (an upload is not on one)
    const px = shared(img);
    return this.embedFaces(px, await this.detect(px), topK);
  }
}

/** The largest face (by box area): the subject of a portrait or a crop. */
export function largestFace<T extends Pick<Detection, 'box'>>(faces: T[]): T | undefined {
  let best: T | undefined;
  let area = -1;
  for (const f of faces) {
    const a = (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]);
    if (a > area) {
      area = a;
      best = f;
    }
  }
  return best;
}
