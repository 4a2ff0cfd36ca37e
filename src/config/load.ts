import { readFileSync } from 'node:fs';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import { redactUrlsIn } from '../util/redact-url.js';
import { ConfigSchema, type VigilConfig } from './schema.js';

/**
 * A configuration problem, with every offending key named. Credentials in URLs are hidden: a YAML
 * syntax error quotes the offending line, which may be a camera URL with its password.
 */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(
    readonly source: string,
    problems: string[],
  ) {
    const shown = problems.map(redactUrlsIn);
    super(`invalid configuration in ${source}:\n${shown.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = shown;
    this.name = 'ConfigError';
  }
}

/** `streams[1].detectFps` from a zod path. */
export function formatPath(path: PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out || '(root)';
}

/** Turns zod issues into "key: problem" lines. */
export function formatIssues(error: z.ZodError): string[] {
  return error.issues.map((i) => {
    if (i.code === 'unrecognized_keys') {
      const base = i.path.length ? `${formatPath(i.path)}.` : '';
      return `${i.keys.map((k) => base + k).join(', ')}: unknown key`;
    }
    return `${formatPath(i.path)}: ${i.message}`;
  });
}

/** Validates an already-parsed object. */
export function validateConfig(raw: unknown, source = 'config'): VigilConfig {
  const res = ConfigSchema.safeParse(raw ?? {});
  if (!res.success) throw new ConfigError(source, formatIssues(res.error));
  return res.data;
}

/** Parses YAML text and validates it. */
export function parseConfig(text: string, source = 'config'): VigilConfig {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    const msg = e instanceof YAMLParseError ? `${e.message}` : String(e);
    throw new ConfigError(source, [`YAML syntax: ${msg}`]);
  }
  return validateConfig(raw, source);
}

/** Reads, parses and validates a YAML configuration file. */
export function loadConfig(file: string): VigilConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(file, [`cannot read file: ${(e as Error).message}`]);
  }
  return parseConfig(text, file);
}
