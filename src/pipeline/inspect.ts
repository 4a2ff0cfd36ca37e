/**
 * gst-inspect for stages: every registered kind with its config keys, types, defaults and meaning,
 * read from its zod schema (so `vigil stages` and README's pipeline reference cannot drift).
 */
import { z } from 'zod';
import { type StageKind, stageKinds } from './stage.js';

export interface StageProperty {
  key: string;
  type: string;
  default?: unknown;
  description: string;
}

interface JsonSchema {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  items?: JsonSchema;
  minimum?: number;
  maximum?: number;
  default?: unknown;
  description?: string;
  properties?: Record<string, JsonSchema>;
}

function typeOf(s: JsonSchema): string {
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(' | ');
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.anyOf) return s.anyOf.map(typeOf).join(' | ');
  if (s.type === 'array') return `${s.items ? typeOf(s.items) : 'any'}[]`;
  const range =
    s.minimum !== undefined || s.maximum !== undefined
      ? ` ${s.minimum ?? '-inf'}..${s.maximum ?? 'inf'}`
      : '';
  return `${Array.isArray(s.type) ? s.type.join('|') : (s.type ?? 'any')}${range}`;
}

/** The properties of one kind's config. */
export function stageProperties(kind: StageKind): StageProperty[] {
  const json = z.toJSONSchema(kind.schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  return Object.entries(json.properties ?? {}).map(([key, s]) => ({
    key,
    type: typeOf(s),
    ...(s.default !== undefined ? { default: s.default } : {}),
    description: s.description ?? '',
  }));
}

/** The text `vigil stages` prints: each kind, its phase and summary, then its properties. */
export function describeStages(kinds = stageKinds()): string {
  return kinds
    .map((k) => {
      const props = stageProperties(k);
      const w = Math.max(...props.map((p) => p.key.length), 4);
      const lines = props.map(
        (p) =>
          `  ${p.key.padEnd(w)}  ${p.type}${p.default !== undefined ? `, default ${JSON.stringify(p.default)}` : ''}\n  ${' '.repeat(w)}  ${p.description}`,
      );
      return `${k.kind} (${k.phase}${k.infers ? ', infers' : ''}): ${k.summary}\n${lines.join('\n') || '  (no properties)'}`;
    })
    .join('\n\n');
}

const cell = (s: string) => s.replace(/\|/g, '\\|');

/** README's pipeline reference, as Markdown: one table per stage kind. */
export function stagesMarkdown(kinds = stageKinds()): string {
  return kinds
    .map((k) => {
      const rows = stageProperties(k).map(
        (p) =>
          `| \`${p.key}\` | ${cell(p.type)} | ${p.default !== undefined ? `\`${cell(JSON.stringify(p.default))}\`` : ''} | ${cell(p.description)} |`,
      );
      return `#### \`${k.kind}\` (${k.phase})\n\n${k.summary}.\n\n| key | type | default | meaning |\n|---|---|---|---|\n${rows.join('\n')}`;
    })
    .join('\n\n');
}
