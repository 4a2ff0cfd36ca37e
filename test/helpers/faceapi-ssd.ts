// face-api's SSD-MobileNet v1 face detector alone (no landmarks, no descriptors), as the peer the
// small-face benchmark and the small-face set's labelling pass compare with.
import { join } from 'node:path';
import type { Detection } from '../../src/inference/contract.js';
import { packageRoot } from '../../src/util/packages.js';
import type { RgbImage } from '../../src/util/rgb.js';
import { loadFaceApi, wasmTf } from './faceapi.js';

export type Box = Detection['box'];

interface SsdNet {
  loadFromDisk(dir: string): Promise<void>;
  dispose(): void;
}
interface SsdApi {
  nets: { ssdMobilenetv1: SsdNet };
  SsdMobilenetv1Options: new (o: { minConfidence?: number; maxResults?: number }) => unknown;
  detectAllFaces(
    input: unknown,
    options: unknown,
  ): Promise<Array<{ score: number; box: { x: number; y: number; width: number; height: number } }>>;
}

export interface SsdDetector {
  detect(img: RgbImage): Promise<Array<{ box: Box; score: number }>>;
  dispose(): void;
}

/** face-api's SSD-MobileNet v1 on tfjs wasm (1 thread), boxes as [x1, y1, x2, y2] frame pixels. */
export async function faceApiSsd(minConfidence: number, maxResults = 100): Promise<SsdDetector> {
  const tf = await wasmTf(1);
  const api = loadFaceApi() as unknown as SsdApi;
  await api.nets.ssdMobilenetv1.loadFromDisk(join(packageRoot('@vladmandic/face-api'), 'model'));
  const options = new api.SsdMobilenetv1Options({ minConfidence, maxResults });
  return {
    async detect(img) {
      const t = tf.tensor3d(img.pixels, [img.height, img.width, 3], 'int32');
      try {
        const found = await api.detectAllFaces(t, options);
        return found.map((d) => ({
          box: [d.box.x, d.box.y, d.box.x + d.box.width, d.box.y + d.box.height] as Box,
          score: d.score,
        }));
      } finally {
        t.dispose();
      }
    },
    dispose: () => api.nets.ssdMobilenetv1.dispose(),
  };
}
