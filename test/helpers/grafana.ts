/** Reads the Grafana dashboards of grafana/dashboards and turns their queries into plain PromQL. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const DASHBOARD_DIR = 'grafana/dashboards';

export interface GrafanaTarget {
  refId?: string;
  expr?: string;
  datasource?: { type?: string; uid?: string };
  legendFormat?: string;
  instant?: boolean;
  format?: string;
}

export interface GrafanaPanel {
  id?: number;
  type: string;
  title: string;
  datasource?: { type?: string; uid?: string };
  gridPos?: { h: number; w: number; x: number; y: number };
  targets?: GrafanaTarget[];
  panels?: GrafanaPanel[];
}

export interface GrafanaVariable {
  name: string;
  type: string;
  query?: unknown;
  definition?: string;
  multi?: boolean;
  includeAll?: boolean;
  allValue?: string;
  datasource?: { type?: string; uid?: string };
}

export interface Dashboard {
  file: string;
  uid: string;
  title: string;
  panels: GrafanaPanel[];
  templating: { list: GrafanaVariable[] };
}

/** One PromQL query of one panel. */
export interface PanelQuery {
  dashboard: string;
  panel: string;
  refId: string;
  /** As written in the dashboard. */
  expr: string;
}

export function loadDashboards(dir = DASHBOARD_DIR): Dashboard[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({
      file: join(dir, f),
      ...(JSON.parse(readFileSync(join(dir, f), 'utf8')) as Omit<Dashboard, 'file'>),
    }));
}

/** Every panel, rows' nested panels included (a collapsed row keeps its panels inside). */
export function allPanels(d: Dashboard): GrafanaPanel[] {
  const out: GrafanaPanel[] = [];
  const walk = (ps: GrafanaPanel[] = []) => {
    for (const p of ps) {
      out.push(p);
      walk(p.panels);
    }
  };
  walk(d.panels);
  return out;
}

/** Every PromQL expression of every target of every panel. */
export function panelQueries(dashboards: Dashboard[]): PanelQuery[] {
  const out: PanelQuery[] = [];
  for (const d of dashboards)
    for (const p of allPanels(d))
      for (const t of p.targets ?? [])
        if (t.expr !== undefined)
          out.push({ dashboard: d.title, panel: p.title, refId: t.refId ?? '?', expr: t.expr });
  return out;
}

/**
 * Replaces Grafana's variables the way Grafana would for "All cameras" and a short time range:
 * `$camera` and `$node` -> `.*` (the variables' allValue), `$__rate_interval` -> `rateInterval`, `$__interval`
 * -> `interval`, `$__range` -> `range`. Throws on a variable it does not know, so a new one is
 * handled deliberately.
 */
export function toPromQL(
  expr: string,
  o: { rateInterval: string; interval: string; range: string; rangeSeconds: number },
): string {
  const vars: Record<string, string> = {
    camera: '.*',
    node: '.*',
    datasource: 'prometheus',
    __rate_interval: o.rateInterval,
    __interval: o.interval,
    __interval_ms: String(parseDurationSeconds(o.interval) * 1000),
    __range: o.range,
    __range_s: String(o.rangeSeconds),
    __range_ms: String(o.rangeSeconds * 1000),
  };
  const out = expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, (m, braced: string, plain: string) => {
    const name = braced ?? plain;
    const v = vars[name];
    if (v === undefined) throw new Error(`unknown Grafana variable ${m} in: ${expr}`);
    return v;
  });
  return out;
}

function parseDurationSeconds(d: string): number {
  const m = /^(\d+)(ms|s|m|h)$/.exec(d);
  if (!m) throw new Error(`bad duration ${d}`);
  const n = Number(m[1]);
  return m[2] === 'ms' ? n / 1000 : m[2] === 's' ? n : m[2] === 'm' ? n * 60 : n * 3600;
}
