/**
 * docs/operations.md's metric catalogue is generated from the registry by scripts/metrics-doc.mjs;
 * this fails when the committed table differs from what the script generates (needs a build).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const SCRIPT = 'scripts/metrics-doc.mjs';
const run = (...args: string[]) =>
  spawnSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8', timeout: 30_000 });

describe('metric catalogue in docs/operations.md', () => {
  it('is what scripts/metrics-doc.mjs generates from the registry (npm run docs:metrics)', () => {
    expect(existsSync('dist/metrics/metrics.js'), 'run npm run build first').toBe(true);
    const r = run('--check');
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
  });

  it('lists every metric of the registry with its type and labels', async () => {
    const doc = readFileSync('docs/operations.md', 'utf8');
    const { VigilMetrics } = await import('../../src/metrics/metrics.js');
    for (const m of new VigilMetrics().registry.getMetricsAsArray()) {
      const mm = m as unknown as { name: string; type: string; labelNames: string[] };
      const row = doc.split('\n').find((l) => l.startsWith(`| \`${mm.name}\``));
      expect(row, mm.name).toBeDefined();
      expect(row).toContain(`| ${mm.type} |`);
      for (const l of mm.labelNames) expect(row).toContain(`\`${l}\``);
    }
  });

  it('--check fails and names the metric when the table is stale', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-doc-'));
    try {
      const stale = join(dir, 'operations.md');
      const doc = readFileSync('docs/operations.md', 'utf8');
      writeFileSync(
        stale,
        doc
          .split('\n')
          .filter((l) => !l.startsWith('| `vigil_ws_clients`'))
          .join('\n'),
      );
      const r = run('--check', '--doc', stale);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/differs from the registry/);
      expect(r.stderr).toMatch(/\+ \| `vigil_ws_clients`/);
      execFileSync(process.execPath, [SCRIPT, '--doc', stale]); // regenerates it
      expect(readFileSync(stale, 'utf8')).toBe(doc);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
