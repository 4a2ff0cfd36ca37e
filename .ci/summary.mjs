#!/usr/bin/env node
/**
 * Prints the suite's counts from vitest's JSON report as the closing line CI reads
 * ("N passed, N failed, N skipped") and exits non-zero when a test failed, none ran, or (under
 * CI) any test was skipped: a skipped test under CI is a missing install step, not a pass.
 *
 *   node .ci/summary.mjs RESULTS.json
 */
import { existsSync, readFileSync } from 'node:fs';

const file = process.argv[2];
if (!file || !existsSync(file)) {
  console.error(`ci: no test report at ${file ?? '(none given)'}: the suite did not run to the end`);
  process.exit(1);
}
const r = JSON.parse(readFileSync(file, 'utf8'));
const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
const failedFiles = (r.testResults ?? []).filter(
  (f) => f.status === 'failed' && (f.assertionResults ?? []).length === 0,
);
const skippedNames = (r.testResults ?? []).flatMap((f) =>
  (f.assertionResults ?? [])
    .filter((a) => a.status === 'pending' || a.status === 'skipped' || a.status === 'todo')
    .map((a) => `${f.name}: ${a.fullName}`),
);
let bad = false;
for (const f of failedFiles) {
  console.error(`ci: ${f.name} failed to load: ${String(f.message ?? '').split('\n')[0]}`);
  bad = true;
}
if (r.numFailedTests > 0) bad = true;
if (r.numTotalTests === 0) {
  console.error('ci: no test ran');
  bad = true;
}
const ci = ['true', '1', 'yes'].includes(String(process.env.CI ?? '').toLowerCase());
if (ci && skipped > 0) {
  console.error(`ci: ${skipped} test(s) skipped under CI=true; every test must run here:`);
  for (const n of skippedNames.slice(0, 40)) console.error(`  skipped: ${n}`);
  bad = true;
}
console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
process.exit(bad ? 1 : 0);
