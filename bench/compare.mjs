// npm run bench:compare -- --base DIR [--current DIR] [--rounds 2] [--same-bench] -- NAME [bench options]
// Runs one benchmark on two trees in alternation (base, current, base, current, ...), in one run on
// one machine, so that both sides see the same load; prints each round's table side by side and the
// spread between rounds of the same side (the run-to-run noise). DIR is a built git worktree of the
// old commit: `git worktree add ../base-OLD OLD && ln -s $PWD/node_modules ../base-OLD/ && (cd
// ../base-OLD && npm run build)`. --same-bench copies this tree's bench/NAME.ts into DIR first, so
// both sides are measured by the same code (for benches whose code does not depend on moved APIs).
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const split = process.argv.indexOf('--');
const own = parseArgs({
  args: process.argv.slice(2, split < 0 ? undefined : split),
  options: {
    base: { type: 'string' },
    /** The new side (default this tree); a worktree of a commit keeps uncommitted edits out. */
    current: { type: 'string' },
    rounds: { type: 'string', default: '2' },
    'same-bench': { type: 'boolean', default: false },
  },
}).values;
const [name, ...benchArgs] = split < 0 ? [] : process.argv.slice(split + 1);
if (!own.base || !name) {
  console.error('usage: node bench/compare.mjs --base DIR [--rounds N] [--same-bench] -- NAME [options]');
  process.exit(2);
}
const trees = { base: resolve(own.base), current: resolve(own.current ?? process.cwd()) };
if (own['same-bench']) copyFileSync(join('bench', `${name}.ts`), join(trees.base, 'bench', `${name}.ts`));
const sha = (dir) => spawnSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD']).stdout.toString().trim();

const results = [];
for (let round = 1; round <= Number(own.rounds); round++)
  for (const [side, dir] of Object.entries(trees)) {
    const label = `${name}-compare-${side}-${round}`;
    console.error(`[compare] round ${round}/${own.rounds}: ${side} (${sha(dir)})`);
    const r = spawnSync('node', ['bench/run.mjs', name, ...benchArgs], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 64 << 20,
    });
    const stdout = r.stdout.toString();
    process.stdout.write(`\n== ${label} (${sha(dir)}) ==\n${stdout}`);
    if (r.status !== 0) throw new Error(`${side} run of ${name} failed (exit ${r.status})`);
    // every bench ends by naming the JSON it wrote
    const file = /written: (.+\.json)/.exec(stdout)?.[1];
    if (!file) throw new Error(`${side} run of ${name} named no result file`);
    results.push({ side, round, sha: sha(dir), ...JSON.parse(readFileSync(resolve(dir, file), 'utf8')) });
    // a bench writes its usual result file: keep the committed one as it was
    const tracked = spawnSync('git', ['-C', dir, 'ls-files', '--error-unmatch', file]).status === 0;
    if (tracked) spawnSync('git', ['-C', dir, 'checkout', '--', file]);
  }

mkdirSync('bench/results', { recursive: true });
const out = join('bench', 'results', `${name}-compare.json`);
writeFileSync(
  out,
  `${JSON.stringify({ bench: name, args: benchArgs, date: new Date().toISOString(), results }, null, 2)}\n`,
);
console.log(`\nwritten: ${out}`);
