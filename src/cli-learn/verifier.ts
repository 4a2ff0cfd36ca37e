/** `vigil learn verifier`: a same/different verifier on pair features, written with its figures. */
import type { Command } from 'commander';
import { fail, num } from '../cli-options.js';
import type { Sample } from '../faces/learn/data.js';
import type { VerifierEpoch } from '../faces/learn/verifier.js';
import { type EmbedOpts, embedded, embedOptions, err, f3, out, verifierOptions } from './options.js';

type VerifierCommandOpts = EmbedOpts & {
  out: string;
  val: number;
  seed: number;
  epochs: number;
  lr: number;
  weightDecay: number;
  impostorRatio: number;
};

export function registerVerifierCommand(learn: Command): void {
  verifierOptions(
    embedOptions(
      learn
        .command('verifier')
        .description(
          'train a same/different verifier (logistic regression on pair features) on folders per identity',
        )
        .requiredOption('-d, --dir <dir...>', 'labelled folder(s): one sub-folder per identity')
        .requiredOption('-o, --out <dir>', 'output folder, e.g. models/heads/NAME-verifier')
        .option(
          '--val <fraction>',
          'identities held out for validation (0: none)',
          num('--val', 0, 0.9),
          0.25,
        )
        .option('--seed <n>', 'random seed', num('--seed', 0, 2 ** 31, true), 1),
    ),
  ).action(async (o: VerifierCommandOpts) => {
    try {
      await trainVerifierCommand(o);
    } catch (e) {
      fail(e);
    }
  });
}

const identities = (s: Sample[]) => [...new Set(s.map((x) => x.identity))];

const logEpoch = (s: VerifierEpoch) => {
  if (s.epoch % 10 === 0 || s.epoch === s.epochs)
    err(
      `[learn] verifier epoch ${s.epoch}/${s.epochs}  log-loss ${s.loss.toFixed(4)}  ${s.ms.toFixed(0)} ms`,
    );
};

async function trainVerifierCommand(o: VerifierCommandOpts): Promise<void> {
  const { splitIdentities } = await import('../faces/learn/data.js');
  const { trainVerifier, saveVerifier, verifierLogit } = await import('../faces/learn/verifier.js');
  const { figures, scorePairs } = await import('../faces/learn/evaluate.js');
  const { dot, tarAtFar } = await import('../faces/metrics.js');
  const { learnedDir } = await import('../faces/learn/head.js');
  const e = await embedded(o);
  const { train, test: val } = splitIdentities(e.samples, o.val, o.seed);
  err(
    `[learn] verifier: training on ${identities(train).length} identities, validating on ${identities(val).length}`,
  );
  const r = await trainVerifier(train, {
    recipe: {
      epochs: o.epochs,
      lr: o.lr,
      weightDecay: o.weightDecay,
      impostorRatio: o.impostorRatio,
      seed: o.seed,
    },
    progress: logEpoch,
  });
  const v = r.verifier;
  const rawP = scorePairs(train, dot);
  const rawThr = tarAtFar(rawP.genuine, rawP.impostor, 0.01).threshold;
  const validation = val.length
    ? {
        raw: figures(val, dot, rawThr),
        verifier: figures(val, (a, b) => verifierLogit(v, a, b), v.manifest.threshold.logit),
        identities: identities(val).length,
      }
    : undefined;
  saveVerifier(
    o.out,
    {
      base: { model: e.settings.model, space: e.space, dim: e.dim },
      data: {
        dirs: o.dir,
        trainIdentities: identities(train),
        valIdentities: identities(val),
        trainImages: train.length,
        valImages: val.length,
      },
      created: new Date().toISOString(),
      recipe: r.recipe,
      featureDim: v.manifest.featureDim,
      threshold: v.manifest.threshold,
      validation,
    },
    v.params,
  );
  out(
    `verifier written to ${learnedDir(o.out)}: threshold p >= ${v.manifest.threshold.probability.toPrecision(4)} (FAR ${f3(v.manifest.threshold.far)} / TAR ${f3(v.manifest.threshold.tar)} on training pairs)`,
  );
  if (validation)
    out(
      `held-out identities (${validation.identities}): TAR@FAR1% raw ${f3(validation.raw.tarAtFar1)} -> verifier ${f3(validation.verifier.tarAtFar1)}, AUC ${validation.raw.auc.toFixed(4)} -> ${validation.verifier.auc.toFixed(4)}`,
    );
}
