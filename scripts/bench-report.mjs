// Regenerates the tables of docs/benchmarks.md from bench/results/*.json (between the markers
// <!-- bench:NAME --> and <!-- /bench:NAME -->), so the document cannot drift from the measurements.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

// docs/style.md carries the style benchmarks the same way
for (const doc of ['docs/benchmarks.md', 'docs/style.md']) {
  if (!existsSync(doc)) continue;
  let text = readFileSync(doc, 'utf8');
  const fmt = (v) =>
    typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(1)) : String(v ?? '');

  function table(rows, cols) {
    const head = `| ${cols.join(' | ')} |\n|${cols.map(() => '---').join('|')}|\n`;
    return head + rows.map((r) => `| ${cols.map((c) => fmt(r[c])).join(' | ')} |`).join('\n');
  }

  // A marker names a result file, optionally with the key of its table: bench:faces.matching
  for (const m of text.matchAll(
    /<!-- bench:([a-z0-9-]+)(?:\.([a-z]+))? -->[\s\S]*?<!-- \/bench:\1(?:\.\2)? -->/g,
  )) {
    const name = m[1];
    const key = m[2];
    const file = `bench/results/${name}.json`;
    if (!existsSync(file)) continue;
    const r = JSON.parse(readFileSync(file, 'utf8'));
    const rows = (key ? r[key] : r.runs) ?? [];
    const cols =
      r.columns ??
      Object.keys(rows[0] ?? {}).filter((k) => !['seconds', 'latencySamples', 'backend'].includes(k));
    const meta =
      `Measured ${r.date.slice(0, 10)} on ${r.machine.cpus} cores (${r.machine.cpuModel}), ${r.machine.memGiB} GiB, Node ${r.machine.node}` +
      (r.input ? `; input: ${r.input}` : '') +
      (r.params ? `; parameters: \`${JSON.stringify(r.params)}\`` : '') +
      '.';
    const tag = key ? `${name}.${key}` : name;
    const body = `<!-- bench:${tag} -->\n${meta}\n\n${table(rows, cols)}\n<!-- /bench:${tag} -->`;
    text = text.replace(m[0], body);
  }
  if (process.argv.includes('--check')) {
    if (readFileSync(doc, 'utf8') !== text) {
      console.error(`${doc} is out of date: run node scripts/bench-report.mjs`);
      process.exit(1);
    }
  } else writeFileSync(doc, text);
}
