import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { recognitionSpace } from '../../src/faces/learn/space.js';
import { readThreshold, spaceVersion } from '../../src/faces/thresholds.js';
import { loadPipeline, stageSettings } from '../../src/pipeline/definition.js';
import type { RecognizeStageConfig } from '../../src/pipeline/stages/recognize.js';

// The shipped recognition default, its calibrated threshold and the figures in docs/accuracy.md must
// agree: the threshold is the open-set operating point measured for exactly this model and crop.
describe('the default recognize pipeline', () => {
  const rec = stageSettings(loadPipeline('recognize')).recognize as RecognizeStageConfig;
  const space = spaceVersion(rec.align, rec.context);

  it('embeds faceres box crops with context 1.6 (docs/accuracy.md, "Crop context and small faces")', () => {
    expect({ model: rec.model, align: rec.align, context: rec.context, head: rec.head }).toEqual({
      model: 'faceres',
      align: false,
      context: 1.6,
      head: undefined,
    });
    expect(space).toBe('box-1.6');
    // another context is another embedding space: galleries of the two are never mixed
    expect(spaceVersion(false, 1.3)).not.toBe(space);
  });

  it('uses a threshold calibrated at stranger FAR <= 1% on the three labelled sets', () => {
    const t = readThreshold(rec.model, space);
    expect(t.far).toBeLessThanOrEqual(0.01);
    expect(t.measuredOn).toEqual(['bbt_crops', 'dlib_johns_crops', 'facerec_photos']);
    expect(recognitionSpace(rec).threshold).toBe(t.similarity);
  });

  it('stores the open-set figures of the accuracy report the docs are generated from', () => {
    const file = `bench/results/accuracy-${rec.model.replaceAll('-', '')}${rec.align ? '' : '_noalign'}_context_${rec.context}.json`;
    const r = JSON.parse(readFileSync(file, 'utf8')) as {
      model: string;
      align: boolean;
      openSet: { threshold: number; strangerFar: number; knownTar: number; strangerQueries: number };
    };
    expect(r.model).toBe(rec.model);
    expect(r.align).toBe(rec.align);
    const t = readThreshold(rec.model, space);
    expect(t.similarity).toBe(Number(r.openSet.threshold.toFixed(4)));
    expect(t.far).toBe(Number(r.openSet.strangerFar.toFixed(4)));
    expect(t.tar).toBe(Number(r.openSet.knownTar.toFixed(4)));
    expect(r.openSet.strangerQueries).toBeGreaterThanOrEqual(100);
  });
});
