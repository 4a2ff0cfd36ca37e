/**
 * The layers of docs/architecture.md, read from the import statements of the sources: generic
 * inference knows no domain, sources know no faces or style, the builder knows stages only through
 * the registry, util and defs know nothing of Vigil's.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '../../src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === 'viewer' ? [] : sourceFiles(p);
    return p.endsWith('.ts') ? [p] : [];
  });
}

/** Every relative import of a file (static, dynamic and type-only), as a path under src/. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"](\.[^'"]+)['"]/g)];
  return specs.map((m) => relative(SRC, resolve(dirname(file), m[1] as string)));
}

/** `folder/...` files importing anything under one of `forbidden`: "file -> import" lines. */
function violations(folder: string, forbidden: string[]): string[] {
  const out: string[] = [];
  for (const f of sourceFiles(join(SRC, folder)))
    for (const imp of importsOf(f))
      if (forbidden.some((x) => imp === x || imp.startsWith(`${x}/`) || imp.startsWith(`${x}.`)))
        out.push(`${relative(SRC, f)} -> ${imp}`);
  return out;
}

describe('layering (docs/architecture.md)', () => {
  it('reads imports (the check itself finds a known import)', () => {
    expect(importsOf(join(SRC, 'app.ts'))).toContain('app/module.js');
  });

  it('src/inference imports nothing from faces, style, pipeline, output, server or app', () => {
    expect(violations('inference', ['faces', 'style', 'pipeline', 'output', 'server', 'app'])).toEqual([]);
  });

  it('src/sources imports nothing from faces, style, pipeline or output', () => {
    expect(violations('sources', ['faces', 'style', 'pipeline', 'output', 'server'])).toEqual([]);
  });

  it('src/util and src/defs import nothing of the domain', () => {
    const domain = ['faces', 'style', 'pipeline', 'output', 'server', 'app', 'inference', 'sources'];
    expect([...violations('util', domain), ...violations('defs', domain)]).toEqual([]);
  });

  it('the pipeline builder imports no stage implementation', () => {
    const builder = importsOf(join(SRC, 'pipeline/builder.ts'));
    expect(builder.filter((i) => i.startsWith('pipeline/stages/'))).toEqual([]);
  });
});
