import { faceDatabase } from '../demo-gallery.js';
import type { VigilConfig } from '../../config/schema.js';
import { loadPipeline, stageSettings } from '../../pipeline/definition.js';
import type { RecognizeStageConfig } from '../../pipeline/stages/recognize.js';
import { openInDataDir } from '../../util/startup-errors.js';
import { Gallery } from '../gallery/gallery.js';
import { type RecognitionSettings, recognitionSpace } from '../learn/space.js';
import { UnknownStore, type UnknownStoreOptions } from './store.js';

/**
 * The gallery and the unknown-face store of a configuration's data directory, for the CLI: no
 * inference needed (listing, naming with stored embeddings, searching). The space is the recognize
 * stage's (the configured pipeline's, else pipelines/recognize.yaml), head included.
 */
export async function openUnknowns(
  config: VigilConfig,
  opts: Partial<UnknownStoreOptions> = {},
): Promise<{ store: UnknownStore; gallery: Gallery; close: () => void }> {
  let plan = stageSettings(loadPipeline(config.pipeline));
  if (!plan.recognize) plan = stageSettings(loadPipeline('recognize'));
  const rec = plan.recognize as RecognizeStageConfig & Pick<RecognitionSettings, 'head'>;
  const sp = recognitionSpace(rec);
  const { file } = faceDatabase(config);
  const { gallery, store } = openInDataDir(config.dataDir, file, () => {
    const gallery = new Gallery(file, { model: sp.model, version: sp.version, dim: sp.dim });
    try {
      return {
        gallery,
        store: new UnknownStore(gallery.db, gallery.space, { threshold: sp.threshold, ...opts }),
      };
    } catch (e) {
      gallery.close();
      throw e;
    }
  });
  return { store, gallery, close: () => gallery.close() };
}
