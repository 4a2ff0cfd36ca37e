/**
 * Loads a pipeline file: `name`, `description` and the ordered `stages`, each `- kind: {config}`.
 * Every stage is validated by its own kind's schema from the registry (stage.ts); errors name the
 * file, the stage index and the key. The built-in kinds are registered by src/pipeline/stages/index.ts.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { formatIssues } from '../config/load.js';
import { PROJECT_ROOT } from '../util/paths.js';
import { type StageConfigMap, stageKind, stageKinds } from './stage.js';
// The built-in kinds, so that any pipeline file can name them (the builder itself knows only the registry).
import './stages/index.js';

const FileSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9_-]+$/, 'lower-case letters, digits, _ and - only'),
    description: z.string().optional(),
    stages: z.array(z.record(z.string(), z.unknown())).min(1),
  })
  .strict();

export interface PipelineStage {
  kind: string;
  /** Parsed by the kind's schema (defaults filled in). */
  config: unknown;
}

export interface PipelineDefinition {
  name: string;
  description?: string;
  /** Where it was read from ("(inline)" for definitions built in code). */
  file: string;
  stages: PipelineStage[];
}

export class PipelineError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`invalid pipeline definition ${file}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'PipelineError';
  }
}

/** The file of a pipeline name (pipelines/<name>.yaml) or path. */
export function pipelineFile(nameOrPath: string): string {
  return nameOrPath.endsWith('.yaml') || nameOrPath.includes('/')
    ? nameOrPath
    : join(PROJECT_ROOT, 'pipelines', `${nameOrPath}.yaml`);
}

/** Loads pipelines/<name>.yaml (or a path to a YAML file) and validates every stage. */
export function loadPipeline(nameOrPath: string): PipelineDefinition {
  const file = pipelineFile(nameOrPath);
  if (!existsSync(file)) {
    const known = listPipelines();
    throw new Error(
      `pipeline: no definition "${nameOrPath}" (looked for ${file}; available: ${known.join(', ') || 'none'})`,
    );
  }
  return parsePipeline(parseYaml(readFileSync(file, 'utf8')), file);
}

/** The pipeline names under pipelines/. */
export function listPipelines(): string[] {
  const dir = join(PROJECT_ROOT, 'pipelines');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -5))
    .sort();
}

/** Validates a parsed pipeline document against the stage registry. */
export function parsePipeline(doc: unknown, file = '(inline)'): PipelineDefinition {
  const top = FileSchema.safeParse(doc);
  if (!top.success) throw new PipelineError(file, formatIssues(top.error));
  const problems: string[] = [];
  const stages = top.data.stages.flatMap((entry, i) => {
    const stage = parseStage(entry, i, problems);
    return stage ? [stage] : [];
  });
  if (!problems.length) problems.push(...orderProblems(stages));
  if (problems.length) throw new PipelineError(file, problems);
  return { name: top.data.name, description: top.data.description, file, stages };
}

function parseStage(entry: Record<string, unknown>, i: number, problems: string[]): PipelineStage | null {
  const keys = Object.keys(entry);
  if (keys.length !== 1) {
    problems.push(`stages[${i}]: one stage kind per entry (got ${keys.join(', ') || 'none'})`);
    return null;
  }
  const kind = keys[0] as string;
  const def = stageKind(kind);
  if (!def) {
    problems.push(
      `stages[${i}]: unknown stage "${kind}" (registered: ${stageKinds()
        .map((k) => k.kind)
        .join(', ')})`,
    );
    return null;
  }
  const res = def.schema.safeParse(entry[kind] ?? {});
  if (!res.success) {
    const issues = formatIssues(
      new z.ZodError(res.error.issues.map((x) => ({ ...x, path: [kind, ...x.path] }))),
    );
    for (const p of issues) problems.push(`stages[${i}].${p}`);
    return null;
  }
  return { kind, config: res.data };
}

const PHASE_ORDER = { analyze: 0, render: 1, output: 2 } as const;

/** Analysis before rendering, one output stage, last. */
function orderProblems(stages: PipelineStage[]): string[] {
  const problems: string[] = [];
  const phases = stages.map((s) => stageKind(s.kind)?.phase ?? 'analyze');
  if (phases.at(-1) !== 'output')
    problems.push(`stages: the last stage must be an output stage (${outputKinds()})`);
  phases.forEach((p, i) => {
    const prev = phases[i - 1];
    if (prev !== undefined && PHASE_ORDER[p] < PHASE_ORDER[prev])
      problems.push(
        `stages[${i}]: ${stages[i]?.kind} (${p}) must come before ${stages[i - 1]?.kind} (${prev}): analysis, then rendering, then output`,
      );
    if (p === 'output' && i !== phases.length - 1)
      problems.push(`stages[${i}]: ${stages[i]?.kind} is an output stage and must be last`);
  });
  return problems;
}

const outputKinds = () =>
  stageKinds()
    .filter((k) => k.phase === 'output')
    .map((k) => k.kind)
    .join(', ');

/** The config of the first stage of a kind (typed by the kind's module), or undefined. */
export function stageConfig<K extends keyof StageConfigMap>(
  def: PipelineDefinition,
  kind: K,
): StageConfigMap[K] | undefined {
  return def.stages.find((s) => s.kind === kind)?.config as StageConfigMap[K] | undefined;
}

/** Every stage's settings by kind (the first stage of each kind), for code that starts services. */
export type StageSettings = { name: string } & Partial<StageConfigMap>;

export function stageSettings(def: PipelineDefinition): StageSettings {
  const out: Record<string, unknown> = { name: def.name };
  for (const s of [...def.stages].reverse()) out[s.kind] = s.config;
  return out as StageSettings;
}
