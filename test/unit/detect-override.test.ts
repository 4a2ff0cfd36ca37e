import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { referenceProblems } from '../../src/config/references.js';
import { DEFAULT_DETECTOR } from '../../src/faces/detect/blazeface.js';
import { detectPlan } from '../../src/pipeline-pool.js';
import { DetectSchema } from '../../src/pipeline/stages/detect.js';

function problems(text: string): string[] {
  try {
    parseConfig(text, 'test.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe("a camera's own detector settings (streams[].detect)", () => {
  it('accepts any subset of the detect stage keys', () => {
    const c = parseConfig(
      'streams:\n  - {id: far, url: "rtsp://h/x", detect: {tiles: 4, minSizePx: 10, minScore: 0.55}}\n  - {id: near, demo: true}\n',
    );
    expect(c.streams[0]?.detect).toEqual({ tiles: 4, minSizePx: 10, minScore: 0.55 });
    expect(c.streams[1]?.detect).toBeUndefined();
  });

  it('names the key and the problem for bad values and unknown keys', () => {
    const p = problems(
      'streams:\n  - {id: a, url: "rtsp://h/x", detect: {tiles: 9, minScore: 2, tile: 3}}\n  - {id: b, demo: true, detect: {minSizePx: -1}}\n',
    );
    expect(p.some((l) => l.startsWith('streams[0].detect.tiles:') && l.includes('8'))).toBe(true);
    expect(p.some((l) => l.startsWith('streams[0].detect.minScore:') && l.includes('1'))).toBe(true);
    expect(p).toContain('streams[0].detect.tile: unknown key');
    expect(p.some((l) => l.startsWith('streams[1].detect.minSizePx:'))).toBe(true);
  });

  it('refuses a model that is not a detector, and settings a pipeline without detection would ignore', () => {
    const bad = parseConfig('pipeline: detect\nstreams: [{id: a, demo: true, detect: {model: faceres}}]');
    expect(referenceProblems(bad)).toEqual([
      'streams[0].detect.model: "faceres" is not a detector model (detectors: blazeface)',
    ]);
    const none = parseConfig('pipeline: passthrough\nstreams: [{id: a, demo: true, detect: {tiles: 3}}]');
    expect(referenceProblems(none)).toEqual([
      'streams[0].detect: pipeline "passthrough" has no detect stage, so these settings would do nothing',
    ]);
  });

  it('becomes a variant of the detect task per distinct setting; cameras without one use the stage', () => {
    const stage = DetectSchema.parse({ minScore: 0.6 });
    const c = parseConfig(
      [
        'streams:',
        '  - {id: near, demo: true}',
        '  - {id: far1, lavfi: testsrc2, detect: {tiles: 4, minSizePx: 10}}',
        '  - {id: far2, lavfi: testsrc2, detect: {minSizePx: 10, tiles: 4}}',
        '  - {id: same, lavfi: testsrc2, detect: {minScore: 0.6}}',
        '  - {id: strict, lavfi: testsrc2, detect: {minScore: 0.8}}',
      ].join('\n'),
    );
    const { spec, variantOf } = detectPlan(stage, c.streams);
    expect(spec).toMatchObject({ model: 'blazeface', tiles: 1, options: { ...DEFAULT_DETECTOR } });
    expect(spec.variants).toEqual([
      { model: 'blazeface', tiles: 4, options: { ...DEFAULT_DETECTOR, minSizePx: 10 } },
      { model: 'blazeface', tiles: 1, options: { ...DEFAULT_DETECTOR, minScore: 0.8 } },
    ]);
    expect([...variantOf]).toEqual([
      ['far1', 1],
      ['far2', 1],
      ['strict', 2],
    ]);
    // no override anywhere: the spec is the stage's, without variants
    expect(detectPlan(stage, [c.streams[0] as (typeof c.streams)[number]]).spec.variants).toBeUndefined();
  });
});
