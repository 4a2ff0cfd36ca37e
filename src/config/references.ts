/**
 * What the schema alone cannot know: names in a valid config that must refer to something that
 * exists. `pipeline` must be a definition in pipelines/ (or a readable path) whose stages validate,
 * and every `inference.models.NAME` a model of models/manifest.yaml (or "style", the style nets).
 * `vigil check` and `vigil run` both refuse a config that names what is not there.
 */
import { readManifests } from '../inference/model-loader.js';
import { DETECTOR_MODELS } from '../faces/detect/settings.js';
import { loadPipeline, PipelineError, stageSettings } from '../pipeline/definition.js';
import { ConfigError } from './load.js';
import type { VigilConfig } from './schema.js';

/** The names inference.models accepts besides the manifest's models. */
const OTHER_MODELS = ['style'];

/** Every problem with what the config refers to, as "key: problem" lines (empty when none). */
export function referenceProblems(config: VigilConfig): string[] {
  const problems: string[] = [];
  try {
    loadPipeline(config.pipeline);
  } catch (e) {
    if (e instanceof PipelineError)
      problems.push(
        `pipeline: "${config.pipeline}" is not a valid pipeline (${e.message.replace(/\n\s*/g, ' ')})`,
      );
    else
      problems.push(
        (e as Error).message.startsWith('pipeline:')
          ? (e as Error).message
          : `pipeline: ${(e as Error).message}`,
      );
  }
  problems.push(...detectOverrideProblems(config));
  const known = [...Object.keys(readManifests()), ...OTHER_MODELS];
  for (const name of Object.keys(config.inference.models))
    if (!known.includes(name))
      problems.push(`inference.models.${name}: no model "${name}" (known: ${known.join(', ')})`);
  return problems;
}

/** streams[].detect: only with a detect stage in the pipeline, and naming a detector model. */
function detectOverrideProblems(config: VigilConfig): string[] {
  const problems: string[] = [];
  let hasDetect = true;
  try {
    hasDetect = stageSettings(loadPipeline(config.pipeline)).detect !== undefined;
  } catch {
    // the pipeline's own problem is reported above
  }
  config.streams.forEach((s, i) => {
    if (!s.detect) return;
    if (!hasDetect)
      problems.push(
        `streams[${i}].detect: pipeline "${config.pipeline}" has no detect stage, so these settings would do nothing`,
      );
    if (s.detect.model !== undefined && !DETECTOR_MODELS.includes(s.detect.model))
      problems.push(
        `streams[${i}].detect.model: "${s.detect.model}" is not a detector model (detectors: ${DETECTOR_MODELS.join(', ')})`,
      );
  });
  return problems;
}

/** Throws a ConfigError naming every key that refers to something missing. */
export function checkReferences(config: VigilConfig, source: string): void {
  const problems = referenceProblems(config);
  if (problems.length) throw new ConfigError(source, problems);
}
