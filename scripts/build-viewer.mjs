// Bundles the browser page (src/server/viewer) into dist/viewer: no CDN, works offline.
import { copyFileSync, mkdirSync } from 'node:fs';
import { build } from 'esbuild';

const src = 'src/server/viewer';
const out = 'dist/viewer';
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [`${src}/main.ts`],
  bundle: true,
  format: 'iife',
  target: 'es2022',
  sourcemap: true,
  outfile: `${out}/app.js`,
  logLevel: 'warning',
});
for (const f of ['index.html', 'style.css']) copyFileSync(`${src}/${f}`, `${out}/${f}`);
