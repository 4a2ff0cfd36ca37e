/**
 * The embed task (worker side): faces are cut from the request's frames here, in the worker (the
 * frames are the decoder's shared buffers: the main thread copies nothing), warped to the model's
 * input (aligned or box crop), embedded, L2-normalised, projected by a trained head when one is
 * configured, and matched against the gallery (one matrix product + top-k per request).
 */
import type { LoadedModel, ModelManifest, SimilarityMatrix, TensorData } from '../../inference/contract.js';
import { manifest } from '../../inference/model-loader.js';
import { compareEmbeddings, type Equivalence } from '../../inference/onnx/verify.js';
import { type LoadContext, registerTask } from '../../inference/task.js';
import { registerModelFormat } from '../../inference/tfjs-engine.js';
import type { RgbImage } from '../../util/rgb.js';
import { alignTransform, boxTransform, RGB_255, warpInto } from '../align.js';
import { loadFaceApiResnet } from '../embed/faceapi-resnet.js';
import { applyHeadFlat, checkHeadBase, type Head, loadHead } from '../learn/head.js';
import { spaceVersion } from '../thresholds.js';
import type { EmbedOutput, EmbedSpec, FaceRequest, GalleryConfig } from './index.js';

// face-api's ResNet-34 is tfjs ops, not a graph: the tfjs engine learns to load it from here
registerModelFormat('faceapi-resnet34', loadFaceApiResnet);

interface WorkerGallery {
  version: number;
  matrix: SimilarityMatrix;
  /** Requests using it; a replaced gallery is disposed when the last one finishes. */
  users: number;
  retired: boolean;
}

interface Embedder {
  model: LoadedModel;
  m: ModelManifest;
  size: number;
  dim: number;
  align: boolean;
  context: number;
  head?: Head;
  gallery?: WorkerGallery;
}

type Crop = Omit<Embedder, 'model' | 'dim'>;

/** The model input for a batch of faces: each warped (aligned or box crop) in the model's pixel format. */
function cropFaces(e: Crop, frames: RgbImage[], faces: FaceRequest[]): TensorData {
  const { size } = e;
  const per = size * size * 3;
  const batch = new Float32Array(per * faces.length);
  const fmt = e.m.pixels ?? RGB_255;
  faces.forEach((face, i) => {
    const f = frames[face.frame];
    if (!f) throw new Error(`face ${i} refers to frame ${face.frame}, not in the request`);
    const t =
      e.align && face.landmarks.length >= 4
        ? alignTransform(face.landmarks, size, e.context)
        : boxTransform(face.box, size, e.context);
    warpInto(f.pixels, f.width, f.height, t, size, batch, i * per, fmt);
  });
  return { data: batch, shape: [faces.length, size, size, 3] };
}

/** ONNX check on real face crops: the faces the detector finds in the probe photo (else its centre). */
async function checkOnProbe(crop: Crop, ctx: LoadContext, ref: LoadedModel, cand: LoadedModel) {
  const { frames, label } = ctx.probe;
  const frame = frames[0] as RgbImage;
  let faces: FaceRequest[] = [];
  try {
    const found = (await ctx.run('detect', frames)) as Array<Array<Omit<FaceRequest, 'frame'>>>;
    faces = (found[0] ?? []).slice(0, 4).map((f) => ({ frame: 0, box: f.box, landmarks: f.landmarks }));
  } catch {
    // no detect task in this pool: the centre crop below
  }
  if (!faces.length) {
    const s = Math.min(frame.width, frame.height) / 2;
    const [cx, cy] = [frame.width / 2, frame.height / 2];
    faces = [{ frame: 0, box: [cx - s / 2, cy - s / 2, cx + s / 2, cy + s / 2], landmarks: [] }];
  }
  const input = cropFaces(crop, frames, faces);
  const [a] = await ref.run(input);
  const [b] = await cand.run(input);
  if (!a || !b) throw new Error('no embedding output');
  return compareEmbeddings(a.data, b.data, faces.length, `${faces.length} face crop(s) of ${label}`);
}

async function embedWith(
  e: Embedder,
  g: WorkerGallery | undefined,
  frames: RgbImage[],
  req: { faces: FaceRequest[]; topK: number },
): Promise<EmbedOutput> {
  if (!req.faces.length) return { faces: [], galleryVersion: g?.version };
  const { dim, head } = e;
  const [out] = await e.model.run(cropFaces(e, frames, req.faces));
  if (!out) throw new Error('embedding model returned nothing');
  const n = req.faces.length;
  const embs = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    let norm = 0;
    for (let j = 0; j < dim; j++) norm += (out.data[i * dim + j] as number) ** 2;
    const inv = 1 / Math.max(Math.sqrt(norm), 1e-12);
    for (let j = 0; j < dim; j++) embs[i * dim + j] = (out.data[i * dim + j] as number) * inv;
  }
  // With a head, vectors live in the head's space (L2-normalised again by the head).
  const final = head ? applyHeadFlat(head, embs, n) : embs;
  const outDim = head ? head.manifest.outDim : dim;
  let top: { indices: Int32Array; values: Float32Array } | undefined;
  let k = 0;
  if (g && g.matrix.rows > 0 && req.topK > 0) {
    k = Math.min(req.topK, g.matrix.rows);
    top = await g.matrix.topK(final, n, k);
  }
  const faces = req.faces.map((_, i) => ({
    embedding: final.slice(i * outDim, (i + 1) * outDim),
    rows: top ? Array.from(top.indices.subarray(i * k, (i + 1) * k)) : [],
    sims: top ? Array.from(top.values.subarray(i * k, (i + 1) * k)) : [],
  }));
  return { faces, galleryVersion: g?.version };
}

const release = (g: WorkerGallery | undefined) => {
  if (!g) return;
  g.users--;
  if (g.retired && g.users === 0) g.matrix.dispose();
};

registerTask<'embed', Embedder>({
  kind: 'embed',
  async load(spec: EmbedSpec, ctx) {
    const m = manifest(spec.model);
    const size = m.input[0];
    const crop: Crop = { m, size, align: spec.align, context: spec.context ?? m.context ?? 1.6 };
    const model = await ctx.loadModel(
      m,
      (ref, cand): Promise<Equivalence> => checkOnProbe(crop, ctx, ref, cand),
    );
    const out = await model.run({ data: new Float32Array(size * size * 3), shape: [1, size, size, 3] });
    const e: Embedder = { ...crop, model, dim: out[0]?.shape[1] ?? m.dim ?? 0 };
    if (spec.head) {
      // A trained projection head on top of the frozen embedding (vigil learn triplet).
      const h = loadHead(spec.head);
      checkHeadBase(h, m.name, spaceVersion(e.align, e.context), e.dim);
      e.head = h;
    }
    return e;
  },
  info: (e) => ({ dim: e.head ? e.head.manifest.outDim : e.dim }),
  async run(e, frames, req, ctx) {
    // One gallery for the whole request: a swap while the model runs must not mix versions.
    const g = e.gallery;
    if (g) g.users++;
    try {
      const out = await embedWith(e, g, frames, req);
      ctx.transfer(...out.faces.map((f) => f.embedding.buffer as ArrayBuffer));
      return out;
    } finally {
      release(g);
    }
  },
  configure(e, c: GalleryConfig, ctx) {
    const old = e.gallery;
    e.gallery =
      c.rows > 0
        ? { version: c.version, matrix: ctx.tfjs.matrix(c.data, c.rows, c.dim), users: 0, retired: false }
        : undefined;
    if (old) {
      old.retired = true;
      if (old.users === 0) old.matrix.dispose();
    }
  },
});
