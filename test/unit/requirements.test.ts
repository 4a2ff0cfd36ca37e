/**
 * The CI rule for missing components: outside CI a test that needs ffmpeg skips with a message;
 * under CI=true the same test fails naming ffmpeg, and .ci/summary.mjs refuses a run with skips.
 * Runs a real vitest on a fixture with PATH emptied of ffmpeg.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { binaryMissing, COMPONENTS, componentMissing } from '../helpers/system-deps.mjs';

const VITEST = join(process.cwd(), 'node_modules', 'vitest', 'vitest.mjs');
const FIXTURES = join(process.cwd(), 'test', 'fixtures', 'requirements');

interface Run {
  status: number | null;
  output: string;
  results: string;
}

function runFixture(env: Record<string, string>): Run {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-req-'));
  const results = join(dir, 'results.json');
  const emptyPath = mkdtempSync(join(tmpdir(), 'vigil-nopath-'));
  const { CI: _ci, ...rest } = process.env;
  const r = spawnSync(process.execPath, [VITEST, 'run', '--config', join(FIXTURES, 'vitest.config.ts')], {
    cwd: FIXTURES,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...rest, PATH: emptyPath, FIXTURE_RESULTS: results, ...env },
  });
  return { status: r.status, output: `${r.stdout}\n${r.stderr}`, results };
}

function summary(results: string, ci: boolean): { status: number | null; output: string } {
  const { CI: _ci, ...rest } = process.env;
  const r = spawnSync(process.execPath, [join(process.cwd(), '.ci', 'summary.mjs'), results], {
    encoding: 'utf8',
    env: ci ? { ...rest, CI: 'true' } : rest,
  });
  return { status: r.status, output: `${r.stdout}\n${r.stderr}` };
}

describe('system components: one list, probed the same way by .ci/run and the tests', () => {
  it('names a binary that is not on PATH', () => {
    expect(binaryMissing('ffmpeg', { PATH: '/nonexistent' })).toMatch(/ffmpeg not found on PATH/);
    expect(() => componentMissing('nosuchthing')).toThrow(/unknown component "nosuchthing"/);
  });

  it('maps every component to Debian packages, with gstreamer1.0-x for timeoverlay', () => {
    for (const c of COMPONENTS) expect(c.packages.length, c.name).toBeGreaterThan(0);
    const gst = COMPONENTS.find((c) => c.name === 'gstreamer-rtsp-server');
    expect(gst?.packages).toContain('gstreamer1.0-x');
  });

  it('outside CI, a test whose ffmpeg is missing skips with the reason', () => {
    const run = runFixture({});
    expect(run.status, run.output).toBe(0);
    expect(run.output).toMatch(/SKIPPED the ffmpeg fixture: ffmpeg not found on PATH/);
    const report = JSON.parse(readFileSync(run.results, 'utf8'));
    expect(report.numPendingTests).toBe(1);
    expect(report.numFailedTests).toBe(0);
    // ... and .ci/summary.mjs accepts skips only outside CI.
    expect(summary(run.results, false).status).toBe(0);
    const strict = summary(run.results, true);
    expect(strict.status).toBe(1);
    expect(strict.output).toMatch(/1 test\(s\) skipped under CI=true/);
    expect(strict.output).toMatch(/^tests: 0 passed, 0 failed, 1 skipped$/m);
  }, 90_000);

  it('under CI=true, the same test fails naming ffmpeg', () => {
    const run = runFixture({ CI: 'true' });
    expect(run.status, run.output).not.toBe(0);
    expect(run.output).toMatch(
      /CI=true and a requirement of the ffmpeg fixture is missing: ffmpeg not found on PATH/,
    );
    const report = JSON.parse(readFileSync(run.results, 'utf8'));
    expect(report.numFailedTests).toBe(1);
    const s = summary(run.results, true);
    expect(s.status).toBe(1);
    expect(s.output).toMatch(/^tests: 0 passed, 1 failed, 1 skipped$/m);
  }, 90_000);

  it('with ffmpeg on PATH the fixture runs and passes', () => {
    if (componentMissing('ffmpeg')) {
      // Only reachable outside CI: under CI .ci/run installs ffmpeg before the suite starts.
      expect(process.env.CI).not.toBe('true');
      return;
    }
    const run = runFixture({ PATH: process.env.PATH ?? '', CI: 'true' });
    expect(run.status, run.output).toBe(0);
    expect(JSON.parse(readFileSync(run.results, 'utf8')).numPassedTests).toBe(1);
  }, 90_000);
});
