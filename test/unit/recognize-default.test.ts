import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { recognitionSpace } from '../../src/faces/learn/space.js';
import { DEFAULT_EVIDENCE } from '../../src/faces/outcome.js';
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

  it('uses the threshold and track rule calibrated together (bench calibration, docs/accuracy.md)', () => {
    const t = readThreshold(rec.model, space);
    expect(t.far).toBeLessThanOrEqual(0.01);
    expect(t.farPerTrack).toBeLessThanOrEqual(0.01);
    expect(t.measuredOn).toEqual(['bbt_crops', 'dlib_johns_crops', 'facerec_photos', 'demo_photos']);
    expect(recognitionSpace(rec).threshold).toBe(t.similarity);
    // the track rule the threshold was calibrated with is the recognize stage's default
    const { nameLooks, minMargin, strongMargin } = DEFAULT_EVIDENCE;
    expect(t.rule).toEqual({ nameLooks, minMargin, strongMargin });
  });

  it('stores the figures of the calibration run the docs quote (bench/results/calibration.json)', () => {
    const r = JSON.parse(readFileSync('bench/results/calibration.json', 'utf8')) as {
      space: { model: string; space: string };
      recommended: { threshold: number };
      recommendedRates: { worstFarPerLook: number; worstFarPerTrack: number; meanTarPerLook: number };
      perCondition: Array<{ strangerLooks: number }>;
    };
    expect(r.space).toMatchObject({ model: rec.model, space });
    const t = readThreshold(rec.model, space);
    expect(t.similarity).toBe(Number(r.recommended.threshold.toFixed(4)));
    expect(t.far).toBe(Number(r.recommendedRates.worstFarPerLook.toFixed(4)));
    expect(t.farPerTrack).toBe(Number(r.recommendedRates.worstFarPerTrack.toFixed(4)));
    expect(t.tar).toBe(Number(r.recommendedRates.meanTarPerLook.toFixed(4)));
    for (const c of r.perCondition) expect(c.strangerLooks).toBeGreaterThanOrEqual(300);
  });
});
