// Bundles the browser page (src/server/viewer) into dist/viewer: no CDN, works offline.
import { copyFileSync, mkdirSync } from 'node:fs';
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
