/**
 * Prometheus finds the nodes (cluster.prometheusFileSd): the live nodes of `vigil_nodes` with
 * their advertised URL, written as a file_sd JSON (`[{targets: ["host:port"], labels: {node}}]`),
 * atomically (a temp file in the same folder, then rename: Prometheus never reads half a file),
 * and only when it changed. prometheus/prometheus.cluster.yml reads it.
 */
import { randomBytes } from 'node:crypto';
import { renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { ClusterNodeEntry } from '../defs/cluster.js';

export interface FileSdGroup {
  targets: string[];
  labels: Record<string, string>;
}

/** One target group per live node with a URL (host:port; the scheme's default port when none). */
export function fileSdGroups(nodes: readonly ClusterNodeEntry[]): FileSdGroup[] {
  const groups: FileSdGroup[] = [];
  for (const n of nodes) {
    if (!n.alive || !n.url) continue;
    let u: URL;
    try {
      u = new URL(n.url);
    } catch {
      continue;
    }
    const port = u.port || (u.protocol === 'https:' ? '443' : '80');
    const labels: Record<string, string> = { node: n.node };
    if (u.protocol === 'https:') labels.__scheme__ = 'https';
    groups.push({ targets: [`${u.hostname}:${port}`], labels });
  }
  return groups.sort((a, b) => (a.labels.node ?? '').localeCompare(b.labels.node ?? ''));
}

/** Writes `groups` to `path` unless it holds them already; true when written. */
export class FileSdWriter {
  private lastText: string | undefined;

  constructor(private readonly path: string) {}

  write(groups: FileSdGroup[]): boolean {
    const text = `${JSON.stringify(groups, null, 2)}\n`;
    if (text === this.lastText) return false;
    // unique per writer: nodes in containers sharing the folder may all be pid 1
    const tmp = join(dirname(this.path), `.${basename(this.path)}.${randomBytes(6).toString('hex')}.tmp`);
    writeFileSync(tmp, text);
    renameSync(tmp, this.path);
    this.lastText = text;
    return true;
  }
}
