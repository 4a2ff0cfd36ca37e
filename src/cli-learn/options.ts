/**
 * What the `vigil learn` commands share: the embedding, head and verifier options (with their
 * recipes), embedding the labelled folders, and the output helpers.
 */
import { join } from 'node:path';
import { type Command, Option } from 'commander';
import { num } from '../cli-options.js';
import { PROJECT_ROOT } from '../util/paths.js';

export const DEFAULT_CONFIG = join(PROJECT_ROOT, 'config', 'default.yaml');

export const err = (m: string) => process.stderr.write(`${m}\n`);
export const out = (v: unknown) =>
  process.stdout.write(`${typeof v === 'string' ? v : JSON.stringify(v, null, 2)}\n`);

export interface EmbedOpts {
  dir: string[];
  augment?: string[];
  model?: string;
  context?: number;
  align?: boolean;
  backend: string;
}

export interface HeadOpts {
  kind: 'linear' | 'mlp';
  init: 'identity' | 'nap';
  napDims: number;
  outDim: number;
  hidden: number;
  alpha: number;
  epochs: number;
  lr: number;
  weightDecay: number;
  batch: number;
  perIdentity: number;
  noise: number;
  seed: number;
}

export interface VerifierOpts {
  vEpochs: number;
  vLr: number;
  vWeightDecay: number;
  impostorRatio: number;
  seed: number;
}

export function embedOptions(c: Command): Command {
  return c
    .option('-m, --model <name>', 'embedding model (default: the recognize pipeline)')
    .option('--context <x>', 'crop context (default: the recognize pipeline)', num('--context', 0.8, 3))
    .option('--align', 'keypoint alignment (default: the recognize pipeline)')
    .option('-b, --backend <name>', 'inference backend for embedding the images', 'auto')
    .addOption(
      new Option(
        '--augment <kind...>',
        'also train on transformed copies: gray (grayscale copies of colour images)',
      ).choices(['gray']),
    );
}

export function headOptions(c: Command): Command {
  return c
    .addOption(
      new Option('--kind <kind>', 'head: linear, or mlp (2 layers, ReLU)')
        .choices(['linear', 'mlp'])
        .default('linear'),
    )
    .addOption(
      new Option(
        '--init <how>',
        "linear head start (and weight-pull anchor): identity (the raw embedding), or nap (project out the directions in which one person's images vary most)",
      )
        .choices(['identity', 'nap'])
        .default('identity'),
    )
    .option('--nap-dims <k>', 'directions removed by --init nap', num('--nap-dims', 1, 512, true), 2)
    .option(
      '--out-dim <n>',
      'output dimension (0: same as the embedding)',
      num('--out-dim', 0, 4096, true),
      0,
    )
    .option('--hidden <n>', 'hidden units of the mlp head', num('--hidden', 1, 4096, true), 256)
    .option('--alpha <x>', 'triplet margin (squared distance on the unit sphere)', num('--alpha', 0, 4), 0.2)
    .option(
      '--epochs <n>',
      'training epochs (0 with --init nap: the projection alone)',
      num('--epochs', 0, 100000, true),
      60,
    )
    .option('--lr <x>', 'Adam learning rate', num('--lr', 0, 1), 1e-3)
    .option(
      '--weight-decay <x>',
      'L2 pull of the weights towards their start (--init)',
      num('--weight-decay', 0, 1e6),
      1e-2,
    )
    .option('--batch <n>', 'images per batch', num('--batch', 4, 4096, true), 96)
    .option(
      '--per-identity <n>',
      'most images of one identity per batch',
      num('--per-identity', 2, 1000, true),
      8,
    )
    .option('--noise <x>', 'Gaussian noise added to training embeddings', num('--noise', 0, 1), 0)
    .option('--seed <n>', 'random seed', num('--seed', 0, 2 ** 31, true), 1);
}

export function verifierOptions(c: Command, prefix = ''): Command {
  return c
    .option(`--${prefix}epochs <n>`, 'verifier epochs', num('epochs', 1, 100000, true), 60)
    .option(`--${prefix}lr <x>`, 'verifier Adam learning rate', num('lr', 0, 1), 0.01)
    .option(
      `--${prefix}weight-decay <x>`,
      'L2 pull of the verifier towards the cosine-only rule',
      num('weight decay', 0, 1e6),
      10,
    )
    .option(
      '--impostor-ratio <x>',
      'impostor pairs per genuine pair per epoch',
      num('--impostor-ratio', 0.1, 100),
      1,
    );
}

/** The trainer's head recipe from the command-line options. */
export const headRecipe = (o: HeadOpts) => ({
  kind: o.kind,
  init: o.init,
  napDims: o.napDims,
  outDim: o.outDim,
  hiddenDim: o.hidden,
  alpha: o.alpha,
  epochs: o.epochs,
  lr: o.lr,
  weightDecay: o.weightDecay,
  batchSize: o.batch,
  perIdentity: o.perIdentity,
  inputNoise: o.noise,
  seed: o.seed,
});

/** The embeddings of the labelled folders, with the settings (model, crop) they were made with. */
export async function embedded(o: EmbedOpts) {
  const { embedSets, recognizeEmbedSettings } = await import('../faces/learn/data.js');
  const settings = recognizeEmbedSettings({
    backend: o.backend as 'auto',
    ...(o.model ? { model: o.model } : {}),
    ...(o.context ? { context: o.context } : {}),
    ...(o.align ? { align: true } : {}),
  });
  const r = await embedSets(o.dir, settings, (m) => err(`[learn] ${m}`), {
    augment: o.augment as Array<'gray'> | undefined,
  });
  return { ...r, settings };
}

/** A figure to 3 decimals, `-` when there is none. */
export const f3 = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(3));
