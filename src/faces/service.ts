import sharp from 'sharp';
import type { InferenceHost } from '../inference/host.js';
import { type AnalyzedFace, FaceEngine, largestFace } from './engine.js';
import {
  type Gallery,
  GalleryError,
  type GalleryMatrix,
  type Person,
  type PhotoInput,
} from './gallery/gallery.js';
import { FeedbackStore } from './gallery/feedback.js';
import { personName } from './person-name.js';
import { cropJpeg, decodeImage, ImageError } from '../util/image.js';
import type { RgbImage } from '../util/rgb.js';
import { type Identity, identify, topRows, type Verification, verify } from './match.js';

export interface IdentifiedFace {
  box: [number, number, number, number];
  score: number;
  identity: Identity;
}

/** Decodes an upload; a refusal names which image it was ("image 2: not a readable image"). */
async function decodeLabelled(image: Buffer, label: string): Promise<RgbImage> {
  try {
    return await decodeImage(image);
  } catch (e) {
    if (e instanceof ImageError) throw new ImageError(`${label}: ${e.message}`, e.status);
    throw e;
  }
}

/** Enrollment, identification and verification of still images: what the HTTP API and the CLI call. */
export class FaceService {
  readonly engine: FaceEngine;
  /** Recent gallery versions: worker results name the version they matched against. */
  private readonly versions = new Map<number, GalleryMatrix>();
  constructor(
    host: InferenceHost,
    readonly gallery: Gallery,
    readonly threshold: number,
    embed: { model: string; align: boolean; context: number },
  ) {
    this.engine = new FaceEngine(
      { backend: 'auto', embedModel: embed.model, align: embed.align, context: embed.context },
      host,
    );
    const keep = (m: GalleryMatrix) => {
      this.versions.set(m.version, m);
      for (const v of this.versions.keys()) if (v < m.version - 8) this.versions.delete(v);
    };
    keep(gallery.matrix());
    gallery.onChange(keep);
  }

  /** One photo of one person: exactly one face, or a clear error naming the image. */
  async photo(image: Buffer, label: string): Promise<PhotoInput> {
    const img = await decodeLabelled(image, label);
    const faces = await this.engine.detect(img);
    if (!faces.length) throw new ImageError(`${label}: no face found`);
    if (faces.length > 1)
      throw new ImageError(
        `${label}: ${faces.length} faces found; enrollment needs a photo of one person (crop it)`,
      );
    const face = faces[0] as AnalyzedFace;
    const [e] = await this.engine.embedFaces(img, [face], 0);
    const stored = await sharp(img.pixels, { raw: { width: img.width, height: img.height, channels: 3 } })
      .jpeg({ quality: 90 })
      .toBuffer();
    return {
      image: stored,
      thumbnail: await cropJpeg(img, face.box, { size: 160 }),
      box: face.box,
      landmarks: face.landmarks,
      embedding: (e as AnalyzedFace).embedding,
    };
  }

  /** Enrolls a person from one or more photos (one face each); nothing is stored unless all are good. */
  async enroll(name: string, images: Buffer[]): Promise<Person> {
    const n = personName(name);
    if (!images.length) throw new GalleryError('at least one image is required', 400);
    this.gallery.assertNameFree(n); // before the (slow) photos; addPerson checks again atomically
    const photos: PhotoInput[] = [];
    for (const [i, b] of images.entries())
      photos.push(await this.photo(b, images.length > 1 ? `image ${i + 1}` : 'image'));
    return this.gallery.addPerson(n, photos);
  }

  async addPhoto(personId: number, image: Buffer): Promise<Person> {
    this.gallery.person(personId);
    return this.gallery.addPhotos(personId, [await this.photo(image, 'image')]);
  }

  /** Every face of an image, each identified (or unknown). */
  async identify(image: Buffer): Promise<IdentifiedFace[]> {
    const img = await decodeImage(image);
    const faces = await this.engine.analyze(img, 5);
    return faces.map((f) => {
      // Rows are read in the gallery version the worker matched against; if that version is gone
      // (many changes meanwhile), the match is recomputed against the current gallery.
      let g = f.galleryVersion === undefined ? undefined : this.versions.get(f.galleryVersion);
      let { rows, sims } = f;
      if (!g) {
        g = this.gallery.matrix();
        ({ rows, sims } = topRows(f.embedding, g, 5));
      }
      return {
        box: f.box,
        score: f.score,
        identity: identify(rows, sims, g, this.threshold, { embedding: f.embedding }),
      };
    });
  }

  /** Is the main face of `a` the same person as the main face of `b`? */
  async verify(a: Buffer, b: Buffer): Promise<Verification> {
    const [ea, eb] = await Promise.all([this.mainFace(a, 'image a'), this.mainFace(b, 'image b')]);
    return verify(ea, eb, this.threshold);
  }

  /** Is the main face of `image` this enrolled person? (best of their photos) */
  async verifyPerson(image: Buffer, personId: number): Promise<Verification & { person: Person }> {
    const person = this.gallery.person(personId);
    const e = await this.mainFace(image, 'image');
    const g = this.gallery.matrix();
    let best: Verification | undefined;
    for (let r = 0; r < g.rows; r++) {
      if (g.rowPerson[r] !== personId) continue;
      const v = verify(e, g.data.subarray(r * g.dim, (r + 1) * g.dim), this.threshold);
      if (!best || v.similarity > best.similarity) best = v;
    }
    if (!best)
      throw new GalleryError(
        `person ${personId} has no embedding in the current model's space: run vigil reembed`,
        409,
      );
    return { ...best, person };
  }

  private async mainFace(image: Buffer, label: string): Promise<Float32Array> {
    const img = await decodeLabelled(image, label);
    const face = largestFace(await this.engine.detect(img));
    if (!face) throw new ImageError(`${label}: no face found`);
    const [f] = await this.engine.embedFaces(img, [face], 0);
    return (f as AnalyzedFace).embedding;
  }

  /**
   * Embeds stored photos, and the faces of operator feedback (negatives, ignored faces), that have
   * no embedding in the current space (after a model change), so no feedback is lost with it.
   */
  async reembed(progress?: (done: number, total: number) => void): Promise<number> {
    const photos = this.gallery.photosToEmbed();
    const feedback = new FeedbackStore(this.gallery);
    const faces = feedback.facesToEmbed();
    const total = photos.length + faces.length;
    for (const [i, p] of photos.entries()) {
      const img = await decodeImage(p.image);
      const face = largestFace(await this.engine.detect(img));
      const box: [number, number, number, number] = face?.box ?? [0, 0, img.width, img.height];
      this.gallery.setEmbedding(p.id, await this.embedAt(img, box, face?.landmarks ?? []));
      progress?.(i + 1, total);
    }
    for (const [i, f] of faces.entries()) {
      feedback.setVector(f.id, await this.embedAt(await decodeImage(f.image), f.box, f.landmarks));
      progress?.(photos.length + i + 1, total);
    }
    if (total) this.gallery.reembedDone();
    return total;
  }

  private async embedAt(
    img: RgbImage,
    box: [number, number, number, number],
    landmarks: Array<[number, number]>,
  ): Promise<Float32Array> {
    const [f] = await this.engine.embedFaces(img, [{ box, landmarks }], 0);
    return (f as AnalyzedFace).embedding;
  }
}
