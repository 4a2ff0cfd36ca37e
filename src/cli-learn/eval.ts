/**
 * `vigil learn eval` (and `vigil eval learn`, when `eval` exists): raw embedding vs triplet head vs
 * verifier on identities never trained on, k-fold over identities or train-on-one-set/test-on-another.
 */
import type { Command } from 'commander';
import { fail, num } from '../cli-options.js';
import type { Sample } from '../faces/learn/data.js';
import type { LearnEvalOptions, SplitResult, Summary } from '../faces/learn/evaluate.js';
import {
  type EmbedOpts,
  embedded,
  embedOptions,
  err,
  type HeadOpts,
  headOptions,
  headRecipe,
  out,
  type VerifierOpts,
  verifierOptions,
} from './options.js';

type EvalOpts = EmbedOpts &
  HeadOpts &
  VerifierOpts & { train?: string[]; test?: string[]; folds: number; repeats: number; json?: string };

type Evaluate = typeof import('../faces/learn/evaluate.js');
type EvalResult = { splits: SplitResult[]; summary: Summary[] };

export function registerLearnEvalCommands(program: Command, learn: Command): void {
  evalOptions(
    learn
      .command('eval')
      .description(
        'raw embedding vs triplet head vs verifier on identities never trained on (rank-1, TAR@FAR, AUC)',
      ),
  );
  const evalCmd = program.commands.find((c) => c.name() === 'eval');
  if (evalCmd)
    evalOptions(
      evalCmd.command('learn').description('same as vigil learn eval: learned heads on held-out identities'),
    );
}

const evalOptions = (c: Command) =>
  verifierOptions(
    headOptions(
      embedOptions(
        c
          .option('-d, --dir <dir...>', 'labelled folders: k-fold cross-validation over their identities')
          .option('--train <dir...>', 'cross-set: train on these folders...')
          .option('--test <dir...>', '...and test on these')
          .option(
            '-k, --folds <n>',
            'folds over identities (stratified by set)',
            num('--folds', 2, 100, true),
            2,
          )
          .option('--repeats <n>', 'repeat the k-fold with other shuffles', num('--repeats', 1, 100, true), 1)
          .option('--json <file>', 'also write the results as JSON'),
      ),
    ),
    'v-',
  ).action(evalAction);

async function evalAction(o: EvalOpts): Promise<void> {
  try {
    await evaluateLearned(o);
  } catch (e) {
    fail(e);
  }
}

async function evaluateLearned(o: EvalOpts): Promise<void> {
  const ev = await import('../faces/learn/evaluate.js');
  const dirs = o.train || o.test ? [...(o.train ?? []), ...(o.test ?? [])] : o.dir;
  if (!dirs?.length) throw new Error('give --dir (k-fold over identities) or --train and --test (cross-set)');
  if (Boolean(o.train) !== Boolean(o.test)) throw new Error('--train and --test go together');
  const e = await embedded({ ...o, dir: dirs });
  const head = headRecipe(o);
  const verifier = {
    epochs: o.vEpochs,
    lr: o.vLr,
    weightDecay: o.vWeightDecay,
    impostorRatio: o.impostorRatio,
    seed: o.seed,
  };
  const progress = (m: string) => err(`[learn eval] ${m}`);
  const recipes = { head, verifier, progress };
  const { protocol, res } =
    o.train && o.test
      ? await crossSet(ev, e.samples, o.train, recipes)
      : await kFold(ev, e.samples, o, recipes);
  out(
    `model ${e.settings.model} (${e.space}); ${protocol}; figures on test identities only, mean over splits`,
  );
  out(ev.summaryTable(res.summary));
  if (o.json) {
    const { writeFileSync } = await import('node:fs');
    writeFileSync(
      o.json,
      `${JSON.stringify({ date: new Date().toISOString(), model: e.settings.model, space: e.space, protocol, head, verifier, ...res }, null, 2)}\n`,
    );
    out(`written ${o.json}`);
  }
}

/** Train on the sets of `trainDirs`, test on the others. */
async function crossSet(ev: Evaluate, samples: Sample[], trainDirs: string[], recipes: LearnEvalOptions) {
  const { basename, resolve } = await import('node:path');
  const trainSets = new Set(trainDirs.map((d) => basename(resolve(d))));
  const tr = samples.filter((s) => trainSets.has(s.set));
  const te = samples.filter((s) => !trainSets.has(s.set));
  const protocol = `train on ${[...trainSets].join(' + ')}, test on ${[...new Set(te.map((s) => s.set))].join(' + ')}`;
  recipes.progress?.(protocol);
  const split = await ev.evaluateSplit(tr, te, recipes);
  const res: EvalResult = { splits: [split], summary: ev.summarize([split]) };
  return { protocol, res };
}

/** k-fold over the identities of every set (stratified by set), repeated. */
async function kFold(ev: Evaluate, samples: Sample[], o: EvalOpts, recipes: LearnEvalOptions) {
  const protocol = `${o.folds}-fold over identities of ${[...new Set(samples.map((s) => s.set))].join(' + ')} (stratified by set), ${o.repeats} repeat(s)`;
  recipes.progress?.(protocol);
  const res: EvalResult = await ev.crossValidate(samples, {
    folds: o.folds,
    repeats: o.repeats,
    seed: o.seed,
    ...recipes,
  });
  return { protocol, res };
}
