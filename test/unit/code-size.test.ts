/**
 * scripts/code-size.mjs (npm run check:size) holds the size limits of issue #13: no source file over
 * 500 lines, no function body over 80. It runs here on the repository, and on a fixture written for
 * the test so that we know it does find a long function, names it and gives its line.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const SCRIPT = 'scripts/code-size.mjs';
const run = (...args: string[]) =>
  spawnSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8', timeout: 60_000 });

/** `n` statements, one a line, so a body's length is known exactly. */
const statements = (n: number, indent: string) =>
  Array.from({ length: n }, (_, i) => `${indent}total += ${i}; // '}' in a comment does not end it`).join(
    '\n',
  );

describe('code size check (scripts/code-size.mjs)', () => {
  it('on the repository, nothing over the limits beyond the known list, which may only shrink', () => {
    // scripts/code-size-baseline.txt: "file name" of each unit still to split (#13); a new one fails here
    const known = new Set(
      readFileSync('scripts/code-size-baseline.txt', 'utf8')
        .split('\n')
        .filter((l) => l.trim()),
    );
    const r = run();
    const found = r.stdout
      .split('\n')
      .map((l) => /^([^:]+):\d+ (.*) \d+ lines \(limit \d+\)$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => `${m[1]} ${m[2]}`);
    expect(r.status === 0 || found.length > 0, `${r.stdout}${r.stderr}`).toBe(true);
    expect(found.filter((f) => !known.has(f))).toEqual([]);
    // a fixed entry is reported so the list gets trimmed
    const fixed = [...known].filter((k) => !found.includes(k));
    if (fixed.length)
      console.warn(`code-size: no longer over the limits, remove from the baseline: ${fixed.join('; ')}`);
  });

  it('reports a long function and a long method by name and line, and exits 1', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-size-'));
    try {
      const file = join(dir, 'long.ts');
      const source = [
        'export function short(): number {', // line 1
        '  return 1;',
        '}',
        'export function tooLong(): number {', // line 4: body spans 85 lines (4..88)
        '  let total = 0;',
        statements(81, '  '),
        '  return total;',
        '}',
        'export class Holder {', // line 89
        '  fits(): string {', // line 90
        "    return '{{{';",
        '  }',
        '  tooLongToo = (): number => {', // line 93: 81 lines exactly over the limit (93..173)
        '    let total = 0;',
        statements(77, '    '),
        '    return total;',
        '  };',
        '}',
        '',
      ].join('\n');
      writeFileSync(file, source);
      const r = run(dir);
      expect(r.status, `${r.stdout}${r.stderr}`).toBe(1);
      const lines = r.stdout.trim().split('\n');
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatch(/long\.ts:4 tooLong 85 lines \(limit 80\)$/);
      expect(lines[1]).toMatch(/long\.ts:93 tooLongToo 81 lines \(limit 80\)$/);
      expect(r.stderr).toContain('code-size: 2 over the limits');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports a file over 500 lines, and counts it() bodies but not describe() groups', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-size-'));
    try {
      const file = join(dir, 'big.test.ts');
      const source = [
        "describe('group', () => {", // a 600-line group is the file's grouping, not a function
        "  it('a long case', () => {", // line 2: body 2..86 = 85 lines
        '    let total = 0;',
        statements(81, '    '),
        '    return total;',
        '  });',
        ...Array.from({ length: 510 }, (_, i) => `  const v${i} = ${i};`),
        '});',
        '',
      ].join('\n');
      writeFileSync(file, source);
      const r = run(file);
      expect(r.status).toBe(1);
      const lines = r.stdout.trim().split('\n');
      expect(lines).toEqual([
        expect.stringMatching(/big\.test\.ts:1 file 597 lines \(limit 500\)$/),
        expect.stringMatching(/big\.test\.ts:2 it\('a long case'\) callback 85 lines \(limit 80\)$/),
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
