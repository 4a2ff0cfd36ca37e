import { type Command, InvalidArgumentError, Option } from 'commander';
import { fail, num } from './cli-options.js';

/**
 * `vigil style train|optimize|apply|list` (docs/style.md). Registered by src/cli.ts: `registerStyleCommands(program)`.
 */
const backendOpt = () =>
  new Option('--backend <b>', 'tfjs backend').choices(['auto', 'tensorflow', 'wasm', 'cpu']).default('auto');

export async function registerStyleCommands(program: Command): Promise<void> {
  const { TRAIN_DEFAULTS } = await import('./style/train.js');
  const { OPTIMIZE_DEFAULTS } = await import('./style/optimize.js');
  const { STYLE_ARCHS } = await import('./style/net.js');
  const { LOSS_NETS } = await import('./style/loss-net.js');
  const style = program
    .command('style')
    .description('neural style transfer: train feed-forward styles, optimise images');
  registerTrain(style, TRAIN_DEFAULTS, Object.keys(STYLE_ARCHS), LOSS_NETS);
  registerOptimize(style, OPTIMIZE_DEFAULTS, LOSS_NETS);
  registerApply(style);
  registerList(style);
}

/** `--style-scales 0.5,1,1.5`: 1-4 multiples in [0.25, 4]. */
function scales(v: string): number[] {
  const parts = v.split(',').map((x) => Number(x.trim()));
  if (!parts.length || parts.length > 4 || parts.some((k) => !Number.isFinite(k) || k < 0.25 || k > 4))
    throw new InvalidArgumentError('--style-scales must be 1-4 comma-separated numbers in [0.25, 4]');
  return parts;
}

type TrainDefaults = typeof import('./style/train.js')['TRAIN_DEFAULTS'];
type OptimizeDefaults = typeof import('./style/optimize.js')['OPTIMIZE_DEFAULTS'];

function registerTrain(
  style: Command,
  defaults: TrainDefaults,
  archs: string[],
  lossNets: readonly string[],
): void {
  style
    .command('train')
    .description('train a feed-forward style network from a painting (writes models/styles/NAME/)')
    .requiredOption('--style <image>', 'the painting')
    .requiredOption('--content <paths...>', 'content: folders of images, image files, video files')
    .requiredOption('--name <name>', 'style name (folder under --out)')
    .addOption(new Option('--arch <a>', 'network size').choices(archs).default(defaults.arch))
    .addOption(new Option('--loss-net <n>', 'loss network').choices([...lossNets]).default(defaults.lossNet))
    .option('--steps <n>', 'training steps', num('--steps', 1, 1e7, true), defaults.steps)
    .option('--batch <n>', 'crops per step', num('--batch', 1, 64, true), defaults.batch)
    .option('--size <px>', 'crop side (multiple of 4)', num('--size', 32, 1024, true), defaults.size)
    .option(
      '--style-size <px>',
      "the painting's longer side for its Gram matrices",
      num('--style-size', 64, 2048, true),
      defaults.styleSize,
    )
    .option('--lr <x>', 'Adam learning rate', num('--lr', 1e-6, 1), defaults.lr)
    .option('--alpha <x>', 'content weight', num('--alpha', 0, 1e6), defaults.alpha)
    .option('--beta <x>', 'style weight', num('--beta', 0, 1e6), defaults.beta)
    .option('--gamma <x>', 'total variation weight', num('--gamma', 0, 1e6), defaults.gamma)
    .option(
      '--temporal <x>',
      'temporal term weight (outputs of a crop and a shifted, noised copy agree)',
      num('--temporal', 0, 1e6),
      defaults.temporal,
    )
    .addOption(
      new Option(
        '--gram <g>',
        'painting statistics: plain Grams, or of mean-centred activations (covariance)',
      )
        .choices(['plain', 'centred'])
        .default(defaults.gram),
    )
    .option(
      '--style-scales <list>',
      'multiples of --style-size the painting is read at; the target is their mean Gram (e.g. 0.5,1,1.5)',
      scales,
      defaults.styleScales,
    )
    .option('--init-from <dir>', "start from a style folder's parameters (fine-tuning)")
    .option('--seed <n>', 'random seed', num('--seed', 0, 2 ** 31, true), defaults.seed)
    .option(
      '--checkpoint-every <n>',
      'steps between checkpoints',
      num('--checkpoint-every', 1, 1e7, true),
      defaults.checkpointEvery,
    )
    .option('--resume', 'continue from NAME/checkpoint')
    .option('--painting <credit>', 'credit line for the painting (viewer, docs)')
    .option('--out <dir>', 'styles folder (default: models/styles)')
    .addOption(backendOpt())
    .action(async (o) => {
      try {
        const { trainStyle, STYLES_DIR } = await import('./style/train.js');
        await trainStyle({ ...o, outRoot: o.out ?? STYLES_DIR, resume: Boolean(o.resume) });
      } catch (e) {
        fail(e);
      }
    });
}

function registerOptimize(style: Command, defaults: OptimizeDefaults, lossNets: readonly string[]): void {
  style
    .command('optimize')
    .description('optimisation-based transfer: minimise the style cost over the pixels of one image')
    .requiredOption('--content <image>', 'content image')
    .requiredOption('--style <image>', 'style image')
    .requiredOption('--out <file>', 'result (PNG or JPEG)')
    .addOption(new Option('--loss-net <n>', 'loss network').choices([...lossNets]).default(defaults.lossNet))
    .addOption(new Option('--init <i>', 'start from').choices(['content', 'noise']).default(defaults.init))
    .option('--steps <n>', 'Adam steps', num('--steps', 1, 1e6, true), defaults.steps)
    .option('--lr <x>', 'step size in pixel units', num('--lr', 1e-3, 255), defaults.lr)
    .option('--size <px>', "result's longer side", num('--size', 32, 2048, true), defaults.size)
    .option(
      '--style-size <px>',
      "the style image's longer side",
      num('--style-size', 64, 2048, true),
      defaults.styleSize,
    )
    .option('--alpha <x>', 'content weight', num('--alpha', 0, 1e6), defaults.alpha)
    .option('--beta <x>', 'style weight', num('--beta', 0, 1e6), defaults.beta)
    .option('--gamma <x>', 'total variation weight', num('--gamma', 0, 1e6), defaults.gamma)
    .option('--seed <n>', 'noise seed', num('--seed', 0, 2 ** 31, true), defaults.seed)
    .addOption(backendOpt())
    .action(async (o) => {
      try {
        const { optimizeStyle } = await import('./style/optimize.js');
        const r = await optimizeStyle(o);
        process.stdout.write(
          `wrote ${o.out} (${r.width}x${r.height}); loss ${r.first.total.toFixed(3)} -> ${r.last.total.toFixed(3)} (style ${r.first.style.toFixed(3)} -> ${r.last.style.toFixed(3)}), ${r.msPerStep.toFixed(0)} ms/step on ${r.backend}\n`,
        );
      } catch (e) {
        fail(e);
      }
    });
}

function registerApply(style: Command): void {
  style
    .command('apply')
    .description('stylise image files with a trained style')
    .requiredOption('--style <name>', 'a style of models/styles (or a style folder)')
    .requiredOption('--out <file>', 'result (PNG or JPEG); with several inputs, a folder')
    .argument('<images...>', 'image files')
    .option('--size <px>', "the result's longer side", num('--size', 32, 4096, true), 640)
    .option('--strength <x>', 'blend with the original (0..1)', num('--strength', 0, 1), 1)
    .addOption(backendOpt())
    .action(async (images: string[], o: ApplyOpts) => {
      try {
        await applyStyle(images, o);
      } catch (e) {
        fail(e);
      }
    });
}

function registerList(style: Command): void {
  style
    .command('list')
    .description('the styles Vigil can run')
    .option('--json', 'JSON output')
    .action(async (o: { json?: boolean }) => {
      const { listStyles, loadStyleDir } = await import('./style/store.js');
      const rows = [...listStyles()].map(([name, dir]) => {
        try {
          const m = loadStyleDir(dir).manifest;
          return { name, arch: m.archName, params: m.params, painting: m.painting, losses: m.losses, dir };
        } catch (e) {
          return { name, error: (e as Error).message, dir };
        }
      });
      if (o.json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      else if (!rows.length) process.stdout.write('no styles\n');
      else
        for (const r of rows)
          process.stdout.write(
            `${r.name}  ${'error' in r ? `ERROR ${r.error}` : `${r.arch}, ${r.params} parameters, ${r.painting}`}\n`,
          );
    });
}

interface ApplyOpts {
  style: string;
  out: string;
  size: number;
  strength: number;
  backend: string;
}

/** Stylises `images` with a trained style (by name, or a style folder) into `o.out`. */
async function applyStyle(images: string[], o: ApplyOpts): Promise<void> {
  const { existsSync, mkdirSync } = await import('node:fs');
  const { basename, join } = await import('node:path');
  const sharp = (await import('sharp')).default;
  const { listStyles, loadStyleDir } = await import('./style/store.js');
  const { StyleRunner, blend } = await import('./style/runner.js');
  const { readStyleImage } = await import('./style/data.js');
  const { createTfjsEngine } = await import('./inference/tfjs-engine.js');
  const dir = listStyles().get(o.style) ?? (existsSync(join(o.style, 'style.json')) ? o.style : undefined);
  if (!dir)
    throw new Error(
      `unknown style "${o.style}" (available: ${[...listStyles().keys()].join(', ') || 'none'})`,
    );
  await createTfjsEngine(o.backend as 'auto');
  const tf = await import('@tensorflow/tfjs-core');
  const runner = new StyleRunner(tf, loadStyleDir(dir));
  if (images.length > 1) mkdirSync(o.out, { recursive: true });
  for (const f of images) {
    const img = await readStyleImage(f, o.size, 'image');
    const t0 = performance.now();
    const out = blend(img.pixels, runner.run(img.pixels, img.width, img.height), o.strength);
    const ms = performance.now() - t0;
    const file = images.length > 1 ? join(o.out, `${basename(f).replace(/\.[^.]+$/, '')}.jpg`) : o.out;
    await sharp(out, { raw: { width: img.width, height: img.height, channels: 3 } }).toFile(file);
    process.stdout.write(`wrote ${file} (${img.width}x${img.height}, ${ms.toFixed(0)} ms)\n`);
  }
  runner.dispose();
}
