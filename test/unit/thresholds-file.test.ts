import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readThreshold, THRESHOLDS_FILE, writeThreshold } from '../../src/faces/thresholds.js';

const dir = mkdtempSync(join(tmpdir(), 'vigil-thresholds-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const point = { similarity: 0.6, far: 0.005, tar: 0.9, measuredOn: ['a'], date: '2026-12-03' };

describe('models/thresholds.yaml', () => {
  it('the shipped file validates', () => {
    expect(readThreshold('faceres', 'box-1.6', THRESHOLDS_FILE).similarity).toBeGreaterThan(0);
  });

  it('names the key and file of a bad entry', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      'faceres:\n  box-1.6:\n    similarity: 1.7\n    far: 0.01\n    tar: 0.9\n    measuredOn: [a]\n    date: 2026-12-03\n',
    );
    expect(() => readThreshold('faceres', 'box-1.6', file)).toThrow(
      /bad\.yaml: faceres\.box-1\.6\.similarity/,
    );
  });

  it('writes one entry keeping the others and their comments, with provenance above it', () => {
    const file = join(dir, 'keep.yaml');
    writeFileSync(
      file,
      'm:\n  # measured by hand\n  s1:\n    similarity: 0.5\n    far: 0.01\n    tar: 0.8\n    measuredOn: [x]\n    date: 2026-01-01\n',
    );
    writeThreshold(
      'm',
      's2',
      { ...point, farPerTrack: 0.004, rule: { nameLooks: 2, minMargin: 0.05, strongMargin: 0.12 } },
      file,
      'from the bench',
    );
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('# measured by hand');
    expect(text).toContain('# from the bench');
    expect(readThreshold('m', 's1', file).similarity).toBe(0.5);
    expect(readThreshold('m', 's2', file).rule).toEqual({
      nameLooks: 2,
      minMargin: 0.05,
      strongMargin: 0.12,
    });
    // a bad point is refused and the file is left as it was
    expect(() => writeThreshold('m', 's3', { ...point, far: 2 }, file)).toThrow(/s3: far/);
    expect(readFileSync(file, 'utf8')).toBe(text);
  });
});
