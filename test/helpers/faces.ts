import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import sharp from 'sharp';
import { DEFAULT_DETECTOR } from '../../src/faces/detect/blazeface.js';
import { type EmbeddingSpace, Gallery, type GalleryMatrix } from '../../src/faces/gallery/gallery.js';
import { FaceService } from '../../src/faces/service.js';
import { detectTask, embedDim, embedTask, setGallery } from '../../src/faces/tasks/index.js';
import { readThreshold, spaceVersion } from '../../src/faces/thresholds.js';
import { type HostOptions, InferenceHost } from '../../src/inference/host.js';
import { loadPipeline, stageSettings } from '../../src/pipeline/definition.js';
import type { RecognizeStageConfig } from '../../src/pipeline/stages/recognize.js';

/** The shared real data: ../shared/data from the project root (may be absent). */
export const DATA = join(process.cwd(), '..', 'shared', 'data');
export const PHOTOS = join(DATA, 'faces', 'facerec_photos');

/** Why the real face photos cannot be used, or undefined when they can. */
export function facePhotosMissing(): string | undefined {
  return existsSync(join(PHOTOS, 'obama', 'obama.jpg'))
    ? undefined
    : `real face photos not found at ${PHOTOS} (../shared/data is absent)`;
}

/** A real photo of facerec_photos: `photo('obama', 'obama.jpg')`. */
export const photo = (person: string, file: string): Buffer => readFileSync(join(PHOTOS, person, file));
export const photoPath = (person: string, file: string): string => join(PHOTOS, person, file);

/** A plain image without any face (solid colour with a gradient band), PNG. */
export async function noFacePng(): Promise<Buffer> {
  return sharp({ create: { width: 480, height: 360, channels: 3, background: { r: 40, g: 90, b: 160 } } })
    .composite([
      {
        input: await sharp({
          create: { width: 480, height: 60, channels: 3, background: { r: 230, g: 220, b: 40 } },
        })
          .png()
          .toBuffer(),
        top: 150,
        left: 0,
      },
    ])
    .png()
    .toBuffer();
}

/**
 * Everything a gallery stores, as comparable values: people (id, name, counts) and every photo and
 * embedding row (vectors and images as hex digests). Used to prove a failed request changed nothing.
 */
export function galleryState(db: Database.Database): {
  people: unknown[];
  photos: unknown[];
  embeddings: unknown[];
} {
  const h = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  return {
    people: db.prepare('SELECT id, name, created_at FROM people ORDER BY id').all(),
    photos: (
      db.prepare('SELECT id, person_id, image, thumbnail, box FROM photos ORDER BY id').all() as Array<{
        id: number;
        person_id: number;
        image: Buffer;
        thumbnail: Buffer;
        box: string;
      }>
    ).map((p) => ({ ...p, image: h(p.image), thumbnail: h(p.thumbnail) })),
    embeddings: (
      db
        .prepare(
          'SELECT photo_id, model, version, dim, vector FROM embeddings ORDER BY photo_id, model, version',
        )
        .all() as Array<{ photo_id: number; vector: Buffer }>
    ).map((e) => ({ ...e, vector: h(e.vector) })),
  };
}

/** Rows of the matrix that belong to a person. */
export function rowsOf(m: GalleryMatrix, personId: number): number {
  return Array.from(m.rowPerson).filter((p) => p === personId).length;
}

/** Recognition settings of pipelines/recognize.yaml, optionally with another alignment / context. */
export function recognizeSettings(override: Partial<Pick<RecognizeStageConfig, 'align' | 'context'>> = {}) {
  const plan = stageSettings(loadPipeline('recognize'));
  const rec = { ...(plan.recognize as RecognizeStageConfig), ...override };
  const space = spaceVersion(rec.align, rec.context);
  return { plan, rec, space, threshold: rec.threshold ?? readThreshold(rec.model, space).similarity };
}

/** A real inference host (one worker thread) for the recognize pipeline's models, as openFaces starts it. */
export async function startHost(
  rec: RecognizeStageConfig,
  extra: Pick<HostOptions, 'onRestart' | 'log'> = {},
): Promise<InferenceHost> {
  const plan = stageSettings(loadPipeline('recognize'));
  const host = new InferenceHost({
    workers: 1,
    backend: 'auto',
    tasks: [
      detectTask({
        model: plan.detect?.model ?? 'blazeface',
        options: { ...DEFAULT_DETECTOR, ...plan.detect },
        tiles: plan.detect?.tiles,
      }),
      embedTask({ model: rec.model, align: rec.align, context: rec.context }),
    ],
    ...extra,
  });
  await host.start();
  return host;
}

/**
 * A FaceService on `gallery`, wired the way the running service wires it (the Recognizer): the
 * gallery's matrix is loaded into the host's workers now and after every change.
 */
export function serviceOn(
  host: InferenceHost,
  gallery: Gallery,
  rec: RecognizeStageConfig,
  threshold: number,
): { service: FaceService; detach: () => void } {
  const sync = (m: GalleryMatrix) => setGallery(host, m);
  sync(gallery.matrix());
  const off = gallery.onChange(sync);
  return { service: new FaceService(host, gallery, threshold, rec), detach: () => void off() };
}

export function openGallery(file: string, model: string, version: string, dim: number): Gallery {
  const space: EmbeddingSpace = { model, version, dim };
  return new Gallery(file, space);
}

export interface OnePersonGallery {
  host: InferenceHost;
  gallery: Gallery;
  /** The person's id. */
  personId: number;
  close: () => Promise<void>;
}

/**
 * A real host (the recognize pipeline's models) and a new gallery in a temporary folder with one
 * person enrolled from one photo of facerec_photos, as the service enrolls.
 */
export async function onePersonGallery(
  settings: ReturnType<typeof recognizeSettings>,
  person: string,
  file: string,
): Promise<OnePersonGallery> {
  const host = await startHost(settings.rec);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-one-person-'));
  const gallery = openGallery(join(dir, 'vigil.db'), settings.rec.model, settings.space, embedDim(host));
  const on = serviceOn(host, gallery, settings.rec, settings.threshold);
  const { id } = await on.service.enroll(person, [photo(person, file)]);
  const close = async () => {
    on.detach();
    gallery.close();
    await host.close();
    rmSync(dir, { recursive: true, force: true });
  };
  return { host, gallery, personId: id, close };
}
