import { faceDatabase } from './demo-gallery.js';
import type { VigilConfig } from '../config/schema.js';
import { InferenceHost } from '../inference/host.js';
import { engineSettings } from '../inference/onnx/settings.js';
import { loadPipeline, stageSettings } from '../pipeline/definition.js';
import type { RecognizeStageConfig } from '../pipeline/stages/recognize.js';
import { DEFAULT_DETECTOR } from './detect/blazeface.js';
import { Gallery } from './gallery/gallery.js';
import { checkDataDir, openInDataDir } from '../util/startup-errors.js';
import { FaceService } from './service.js';
import { recognitionSpace } from './learn/space.js';
import { detectTask, embedDim, embedTask, setGallery } from './tasks/index.js';

/**
 * The gallery and a face service outside the running service (CLI): recognition settings come from
 * the configured pipeline when it recognises faces, else from pipelines/recognize.yaml, so the CLI
 * embeds in the same space as the service.
 */
export async function openFaces(config: VigilConfig): Promise<{
  service: FaceService;
  gallery: Gallery;
  rec: RecognizeStageConfig;
  close: () => Promise<void>;
}> {
  checkDataDir(config.dataDir);
  let plan = stageSettings(loadPipeline(config.pipeline));
  if (!plan.recognize) plan = stageSettings(loadPipeline('recognize'));
  const rec = plan.recognize as RecognizeStageConfig;
  const { version: space, threshold } = recognitionSpace(rec);
  const host = new InferenceHost({
    workers: 1,
    backend: config.inference.backend,
    engines: engineSettings(config.inference, config.dataDir),
    tasks: [
      detectTask({
        model: plan.detect?.model ?? 'blazeface',
        options: { ...DEFAULT_DETECTOR, ...plan.detect },
        tiles: plan.detect?.tiles,
      }),
      embedTask({ model: rec.model, align: rec.align, context: rec.context, head: rec.head }),
    ],
  });
  await host.start();
  const { file } = faceDatabase(config);
  let gallery: Gallery;
  try {
    gallery = openInDataDir(
      config.dataDir,
      file,
      () => new Gallery(file, { model: rec.model, version: space, dim: embedDim(host) }),
    );
  } catch (e) {
    await host.close();
    throw e;
  }
  // The worker matches against the gallery: load it now and after every change.
  const load = (m: ReturnType<Gallery['matrix']>) => setGallery(host, m);
  load(gallery.matrix());
  gallery.onChange(load);
  return {
    service: new FaceService(host, gallery, threshold, rec),
    gallery,
    rec,
    close: async () => {
      gallery.close();
      await host.close();
    },
  };
}
