import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

/** Root folder of an installed npm package (works when its "exports" hide package.json). */
export function packageRoot(name: string): string {
  let entry: string;
  try {
    entry = require.resolve(name);
  } catch {
    // a package of data files only (no main): its package.json is reachable when no "exports" hide it
    entry = require.resolve(`${name}/package.json`);
  }
  let dir = dirname(entry);
  for (;;) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj) && (JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === name)
      return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find the root of package ${name}`);
    dir = up;
  }
}
