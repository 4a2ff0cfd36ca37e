// Bundles the browser page (src/server/viewer) into dist/viewer: no CDN, works offline.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

const src = 'src/server/viewer';
const out = 'dist/viewer';
mkdirSync(out, { recursive: true });
// app.js: the page; decoder.js: its JPEG decoding worker.
for (const [entry, file] of [
  ['main.ts', 'app.js'],
  ['decoder-worker.ts', 'decoder.js'],
]) {
  await build({
    entryPoints: [`${src}/${entry}`],
    bundle: true,
    format: 'iife',
    target: 'es2022',
    sourcemap: true,
    outfile: `${out}/${file}`,
    logLevel: 'warning',
  });
}
for (const f of ['index.html', 'style.css']) copyFileSync(`${src}/${f}`, `${out}/${f}`);

// dist/api-docs.html: the API page (GET /api/docs) with its script inlined, outside dist/viewer so
// that it is served only behind the API's token check.
const docs = await build({
  entryPoints: [`${src}/api-docs.ts`],
  bundle: true,
  format: 'iife',
  target: 'es2022',
  write: false,
  logLevel: 'warning',
});
const page = readFileSync(`${src}/api-docs.html`, 'utf8');
const script = docs.outputFiles[0].text.replaceAll('</script', '<\\/script');
writeFileSync(
  'dist/api-docs.html',
  page.replace('<!-- api-docs.js -->', () => `<script>\n${script}</script>`),
);
