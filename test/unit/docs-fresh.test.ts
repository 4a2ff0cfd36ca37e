import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

// The figures in the docs are regenerated from bench/results/*.json, and README's stage reference
// from the stage schemas: they must not drift.
describe('generated docs', () => {
  it.each(['scripts/bench-report.mjs', 'scripts/accuracy-report.mjs', 'scripts/stages-doc.mjs'])(
    '%s --check passes',
    (script) => {
      expect(() =>
        execFileSync(process.execPath, [script, '--check'], { encoding: 'utf8', stdio: 'pipe' }),
      ).not.toThrow();
    },
  );
});
