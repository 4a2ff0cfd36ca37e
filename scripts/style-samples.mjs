// Regenerates the "shipped styles" part of docs/style.md (between <!-- styles --> and <!-- /styles -->)
// and docs/img/style/NAME.jpg for every style in models/styles: the painting, then content / output
// pairs (a frame of the shared video, a sample photo of @vladmandic/face-api, the shared content photo;
// the ones that exist). Run after `npm run build`: node scripts/style-samples.mjs
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';

const root = process.cwd();
const { listStyles, loadStyleDir } = await import(join(root, 'dist/style/store.js'));
const { StyleRunner } = await import(join(root, 'dist/style/runner.js'));
const { readStyleImage } = await import(join(root, 'dist/style/data.js'));
const { createTfjsEngine } = await import(join(root, 'dist/inference/tfjs-engine.js'));
const { resolveFfmpeg } = await import(join(root, 'dist/sources/ffmpeg.js'));
await createTfjsEngine('wasm');
const tf = await import('@tensorflow/tfjs-core');

const work = mkdtempSync(join(tmpdir(), 'vigil-style-samples-'));
const contents = [];
const clip = join(root, '..', 'shared', 'data', 'video', 'short_hamilton_clip.mp4');
if (existsSync(clip)) {
  const f = join(work, 'frame.png');
  execFileSync(resolveFfmpeg().path, [
    '-loglevel',
    'error',
    '-ss',
    '5',
    '-i',
    clip,
    '-frames:v',
    '1',
    '-vf',
    'scale=480:270',
    f,
  ]);
  contents.push(f);
}
contents.push(join(root, 'node_modules', '@vladmandic', 'face-api', 'demo', 'sample2.jpg'));
const amber = join(root, '..', 'shared', 'data', 'style', 'content', 'amber.jpg');
if (existsSync(amber)) contents.push(amber);

const H = 180;
const tile = async (rgb) =>
  sharp(rgb.pixels, { raw: { width: rgb.width, height: rgb.height, channels: 3 } })
    .resize({ height: H })
    .png()
    .toBuffer();
const rows = [];
for (const [name, dir] of listStyles()) {
  const style = loadStyleDir(dir);
  const m = style.manifest;
  const runner = new StyleRunner(tf, style);
  const tiles = [await sharp(join(dir, 'style.jpg')).resize({ height: H }).toBuffer()];
  for (const c of contents) {
    const img = await readStyleImage(c, 480);
    tiles.push(await tile(img));
    runner.reset();
    tiles.push(await tile({ ...img, pixels: runner.run(img.pixels, img.width, img.height) }));
  }
  runner.dispose();
  const widths = await Promise.all(tiles.map(async (t) => (await sharp(t).metadata()).width));
  const total = widths.reduce((a, b) => a + b + 4, -4);
  let x = 0;
  const comp = tiles.map((t, i) => {
    const o = { input: t, left: x, top: 0 };
    x += widths[i] + 4;
    return o;
  });
  await sharp({ create: { width: total, height: H, channels: 3, background: '#ffffff' } })
    .composite(comp)
    .jpeg({ quality: 82 })
    .toFile(join(root, 'docs', 'img', 'style', `${name}.jpg`));
  const r = m.recipe;
  rows.push(
    `### ${name}: ${m.painting}\n\n![${name}](img/style/${name}.jpg)\n\n` +
      `Network \`${m.archName}\` (${m.params} parameters), loss network \`${m.lossNet}\`; ` +
      (r.initFrom
        ? `fine-tuned from the earlier ${r.initFrom} with the temporal term (weight ${r.temporal}): `
        : '') +
      `${r.steps} steps of ` +
      `${r.batch} crops of ${r.size}x${r.size} from ${r.contentImages} content images, painting at ${r.styleSize} px` +
      (r.styleScales ? ` x ${r.styleScales.join(', ')}` : '') +
      (r.gram === 'centred' ? ', covariance (centred) Grams' : ', plain Grams') +
      (r.temporal && !r.initFrom ? `, temporal term ${r.temporal}` : '') +
      ', ' +
      `alpha ${r.alpha}, beta ${r.beta}, gamma ${r.gamma}, Adam lr ${r.lr}; ${m.training.backend}, ` +
      `${(m.training.msPerStep / 1000).toFixed(2)} s per step, ${(m.training.seconds / 60).toFixed(0)} min` +
      `${m.training.resumedAt ? ` (resumed at step ${m.training.resumedAt.join(', ')})` : ''}. ` +
      `Final costs (mean of the last 50 steps): content ${m.losses.content.toFixed(3)}, style ${m.losses.style.toFixed(4)}, ` +
      `TV ${m.losses.tv.toFixed(4)}, total ${m.losses.total.toFixed(3)}.\n`,
  );
  console.log(`docs/img/style/${name}.jpg`);
}
const doc = join(root, 'docs', 'style.md');
const text = readFileSync(doc, 'utf8');
const block = `<!-- styles -->\nEach strip: the painting, then content / output pairs (${contents.length} contents: ${contents
  .map((c) => c.split('/').pop())
  .join(', ')}).\n\n${rows.join('\n')}<!-- /styles -->`;
writeFileSync(doc, text.replace(/<!-- styles -->[\s\S]*?<!-- \/styles -->|STYLES_TABLE/, block));
console.log('docs/style.md updated');
