// The loss network comparison of docs/style.md: optimisation-based transfer (vigil style optimize)
// with each loss network on the same content and paintings, same steps and weights. Speed: ms per
// step (interleaved, same load). Quality: the images (docs/img/style/lossnet-*.jpg), and each result's
// style distance measured by the OTHER network too (a network judging its own output is no proof).
// npm run bench -- style-loss-nets [--steps 100] [--size 192]
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type * as tfTypes from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { styleTf } from '../src/style/backend.js';
import { readStyleImage } from '../src/style/data.js';
import { styleCost } from '../src/style/loss.js';
import { createLossNet, LOSS_NETS, type LossNetName } from '../src/style/loss-net.js';
import { optimizeStyle } from '../src/style/optimize.js';
import { styleTargets } from '../src/style/targets.js';
import { machine, printTable, progress, writeResult } from './_util.js';

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '100' },
    size: { type: 'string', default: '192' },
    styles: { type: 'string', default: 'starry_night,wave,composition_vii' },
  },
});
const data = join(process.cwd(), '..', 'shared', 'data', 'style');
if (!existsSync(data)) {
  console.error(`style-loss-nets needs ${data} (paintings and a content photo); it is absent`);
  process.exit(2);
}
const content = join(data, 'content', 'amber.jpg');
const outDir = join(process.cwd(), 'docs', 'img', 'style');
const work = mkdtempSync(join(tmpdir(), 'vigil-lossnets-'));
mkdirSync(outDir, { recursive: true });
const steps = Number(values.steps);
const size = Number(values.size);
const { tf, backend } = await styleTf('wasm');

/** Style distance of an image under a loss network (relative, as training measures it). */
async function styleDistance(net: LossNetName, image: string, painting: string): Promise<number> {
  const n = createLossNet(tf, net);
  const s = await readStyleImage(painting, 256);
  const g = await readStyleImage(image, size);
  const t = styleTargets(tf, n, s);
  const d = tf.tidy(() => {
    const f = n.features(tf.tensor4d(Float32Array.from(g.pixels), [1, g.height, g.width, 3]));
    return styleCost(
      tf,
      t.grams,
      n.styleLayers.map((l) => f[l] as tfTypes.Tensor4D),
      t.layerWeights,
    ).dataSync()[0] as number;
  });
  t.dispose();
  n.dispose();
  return d;
}

const rows: Array<Record<string, string | number>> = [];
const results: Array<Record<string, unknown>> = [];
const c = await sharp(content).resize(size, size, { fit: 'cover' }).jpeg({ quality: 90 }).toBuffer();
await sharp(c).toFile(join(work, 'content.jpg'));
for (const style of (values.styles as string).split(',')) {
  const painting = join(data, 'paintings', `${style}.jpg`);
  await sharp(painting)
    .resize(size, size, { fit: 'cover' })
    .jpeg({ quality: 85 })
    .toFile(join(work, `style-${style}.jpg`));
  for (const net of LOSS_NETS) {
    progress(`${style} with ${net}: ${steps} steps`);
    const out = join(work, `${net}-${style}.jpg`);
    const r = await optimizeStyle({
      content,
      style: painting,
      out,
      lossNet: net,
      init: 'content',
      steps,
      lr: 6,
      size,
      styleSize: 256,
      alpha: 1,
      beta: 50,
      gamma: 2,
      seed: 1,
      backend: 'wasm',
      quiet: true,
    });
    const judged = Object.fromEntries(
      await Promise.all(LOSS_NETS.map(async (j) => [j, await styleDistance(j, out, painting)] as const)),
    );
    const start = Object.fromEntries(
      await Promise.all(LOSS_NETS.map(async (j) => [j, await styleDistance(j, content, painting)] as const)),
    );
    const other = LOSS_NETS.find((x) => x !== net) as LossNetName;
    rows.push({
      painting: style,
      'loss net': net,
      'ms/step': r.msPerStep,
      'own style dist': `${(start[net] as number).toFixed(3)} -> ${(judged[net] as number).toFixed(4)}`,
      [`judged by other`]: `${(start[other] as number).toFixed(3)} -> ${(judged[other] as number).toFixed(4)} (${other})`,
      'other: % of start': (100 * (judged[other] as number)) / (start[other] as number),
    });
    results.push({
      painting: style,
      lossNet: net,
      msPerStep: r.msPerStep,
      first: r.first,
      last: r.last,
      styleDistance: { start, end: judged },
    });
  }
  // one strip per painting for docs/style.md: content | painting | each loss network's result
  const strip = [
    join(work, 'content.jpg'),
    join(work, `style-${style}.jpg`),
    ...LOSS_NETS.map((n) => join(work, `${n}-${style}.jpg`)),
  ];
  const tiles = await Promise.all(strip.map((f) => sharp(f).resize(size, size, { fit: 'cover' }).toBuffer()));
  await sharp({
    create: { width: (size + 4) * tiles.length - 4, height: size, channels: 3, background: '#ffffff' },
  })
    .composite(tiles.map((t, i) => ({ input: t, left: i * (size + 4), top: 0 })))
    .jpeg({ quality: 85 })
    .toFile(join(outDir, `lossnet-${style}.jpg`));
}
console.log(
  `\nLoss networks: optimisation-based transfer, ${steps} Adam steps at ${size}x${size} on tfjs-${backend}\n`,
);
printTable(rows);
const file = writeResult('style-loss-nets', {
  date: new Date().toISOString(),
  machine: machine(),
  params: { backend: `tfjs-${backend}`, steps, size, beta: 50, lr: 6, init: 'content' },
  runs: rows,
  results,
});
console.log(`\nwrote ${file}`);
