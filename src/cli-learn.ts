import type { Command } from 'commander';
import { registerLearnEvalCommands } from './cli-learn/eval.js';
import { registerTripletCommand } from './cli-learn/triplet.js';
import { registerUnknownCommands } from './cli-learn/unknowns.js';
import { registerVerifierCommand } from './cli-learn/verifier.js';

/**
 * `vigil learn triplet|verifier|eval` (learned heads on frozen embeddings, docs/learning.md), `vigil
 * eval learn` (the same evaluation under `eval`, when that command exists) and `vigil unknowns`
 * (unknown-face clusters). Registered by src/cli.ts: `registerLearnCommands(program)`. One module
 * per command group under src/cli-learn/; their shared options in src/cli-learn/options.ts.
 */
export function registerLearnCommands(program: Command): void {
  const learn = program
    .command('learn')
    .description('train small learned heads on frozen face embeddings (docs/learning.md)');
  registerTripletCommand(learn);
  registerVerifierCommand(learn);
  registerLearnEvalCommands(program, learn);
  registerUnknownCommands(program);
}
