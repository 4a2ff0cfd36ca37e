// The styles shipped in models/styles (docs/style.md): issue #17 asks for at least six, all trained
// by Vigil from public-domain paintings, each with its measured row. Every folder must load, carry
// its painting's thumbnail and credit, name the painting it was trained on (and, with ../shared,
// that painting's bytes), and appear in docs/style.md: its recipe in the shipped-styles block and a
// row in one of the quality tables.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { listStyles, loadStyleDir, STYLES_DIR } from '../../src/style/store.js';
import { DATA } from '../helpers/faces.js';

const shipped = [...listStyles([STYLES_DIR]).entries()];
const doc = readFileSync(join(process.cwd(), 'docs', 'style.md'), 'utf8');
const between = (a: string, b: string) => doc.slice(doc.indexOf(a), doc.indexOf(b));
const stylesBlock = between('<!-- styles -->', '<!-- /styles -->');
/** Rows of every style-quality table (first cell: the style's name). */
const qualityRows = [...doc.matchAll(/<!-- bench:style-quality[a-z-]*\.rows -->[\s\S]*?<!-- \//g)]
  .flatMap((m) => m[0].split('\n'))
  .map((l) => /^\| ([a-z0-9_-]+) \|/.exec(l)?.[1])
  .filter(Boolean);

describe('shipped styles', () => {
  it('there are at least six', () => {
    expect(shipped.map(([n]) => n).length).toBeGreaterThanOrEqual(6);
  });

  for (const [name, dir] of shipped)
    it(`${name}: loads, has its thumbnail, credit and painting, and is documented`, async () => {
      const { manifest, params } = loadStyleDir(dir);
      expect(manifest.name).toBe(name);
      expect(Object.keys(params).length).toBeGreaterThan(0);
      expect(manifest.painting.length).toBeGreaterThan(3);
      const thumb = await sharp(join(dir, 'style.jpg')).metadata();
      expect(thumb.format).toBe('jpeg');
      expect(Math.max(thumb.width ?? 0, thumb.height ?? 0)).toBeLessThanOrEqual(256);
      const painting = join(DATA, 'style', 'paintings', manifest.recipe.styleImage.file);
      if (existsSync(painting))
        expect(createHash('sha256').update(readFileSync(painting)).digest('hex')).toBe(
          manifest.recipe.styleImage.sha256,
        );
      expect(stylesBlock).toContain(`### ${name}: ${manifest.painting}`);
      expect(doc).toContain(`img/style/quality-${name}.jpg`);
      expect(qualityRows).toContain(name);
    });
});
