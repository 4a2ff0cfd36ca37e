/**
 * The Grafana dashboards and provisioning, checked statically against Vigil's metrics registry:
 * structure, the $camera / $node / $datasource variables, and PromQL usage (metric names, rate() only
 * on counters, histogram_quantile over rate(..._bucket) summed by le, $camera on per-camera metrics,
 * $node on every metric: the `node` label of cluster mode).
 * test/integration/prometheus.test.ts runs every query against a live Vigil.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { VigilMetrics } from '../../src/metrics/metrics.js';
import { allPanels, loadDashboards, panelQueries } from '../helpers/grafana.js';

/** Recognition metrics announced for the recognize pipeline; the registry wins once they are in it. */
const ANNOUNCED: Record<string, { type: string; labels: string[] }> = {
  vigil_recognitions_total: { type: 'counter', labels: ['stream', 'result'] },
  vigil_alerts_total: { type: 'counter', labels: ['stream', 'kind'] },
  vigil_match_similarity: { type: 'histogram', labels: ['stream'] },
  vigil_gallery_people: { type: 'gauge', labels: [] },
  vigil_gallery_embeddings: { type: 'gauge', labels: [] },
};

const metrics = new VigilMetrics();
const registry = new Map<string, { type: string; labels: string[] }>(
  metrics.registry.getMetricsAsArray().map((m) => {
    const mm = m as unknown as { name: string; type: string; labelNames?: string[] };
    return [mm.name, { type: mm.type, labels: [...(mm.labelNames ?? [])] }];
  }),
);
const known = new Map([...Object.entries(ANNOUNCED), ...registry]);
known.set('up', { type: 'gauge', labels: ['job', 'instance'] });

/** The metric and, for histogram series, the suffix. */
function lookup(series: string): { name: string; type: string; labels: string[]; suffix: string } | null {
  const direct = known.get(series);
  if (direct) return { name: series, ...direct, suffix: '' };
  const m = /^(.*)_(bucket|sum|count)$/.exec(series);
  const h = m ? known.get(m[1] as string) : undefined;
  return m && h?.type === 'histogram' ? { name: m[1] as string, ...h, suffix: m[2] as string } : null;
}

const dashboards = loadDashboards();
const queries = panelQueries(dashboards);
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a template
const DS = { type: 'prometheus', uid: '${datasource}' };

describe('Grafana dashboards', () => {
  it('are "Vigil overview" and "Vigil recognition", with unique uids and panel ids', () => {
    expect(dashboards.map((d) => d.title).sort()).toEqual(['Vigil overview', 'Vigil recognition']);
    expect(new Set(dashboards.map((d) => d.uid)).size).toBe(dashboards.length);
    for (const d of dashboards) {
      const ids = allPanels(d).map((p) => p.id);
      expect(new Set(ids).size, d.title).toBe(ids.length);
      for (const p of allPanels(d)) {
        const g = p.gridPos;
        expect(
          g && g.x >= 0 && g.w > 0 && g.x + g.w <= 24 && g.h > 0,
          `${d.title} / ${p.title} gridPos`,
        ).toBe(true);
        if (p.type === 'row') continue;
        expect(p.title, d.title).toBeTruthy();
        expect(p.datasource, `${d.title} / ${p.title}`).toEqual(DS);
        expect(p.targets?.length, `${d.title} / ${p.title}: targets`).toBeGreaterThan(0);
        const refIds = (p.targets ?? []).map((t) => t.refId);
        expect(new Set(refIds).size, `${d.title} / ${p.title}: refIds`).toBe(refIds.length);
        for (const t of p.targets ?? []) {
          expect(t.datasource, `${d.title} / ${p.title}`).toEqual(DS);
          expect(t.expr?.trim(), `${d.title} / ${p.title}: expr`).toBeTruthy();
        }
      }
      const titles = allPanels(d)
        .filter((p) => p.type !== 'row')
        .map((p) => p.title);
      expect(new Set(titles).size, `${d.title}: panel titles are unique (tests key on them)`).toBe(
        titles.length,
      );
    }
  });

  it('have a datasource variable and a multi-value $camera variable (All = .*) over label stream', () => {
    for (const d of dashboards) {
      const ds = d.templating.list.find((v) => v.name === 'datasource');
      expect(ds).toMatchObject({ type: 'datasource', query: 'prometheus' });
      const cam = d.templating.list.find((v) => v.name === 'camera');
      expect(cam, d.title).toMatchObject({
        type: 'query',
        multi: true,
        includeAll: true,
        allValue: '.*',
        datasource: DS,
      });
      expect(cam?.definition).toMatch(/^label_values\(vigil_\w+\{node=~"\$node"\}, stream\)$/);
      expect(JSON.stringify(cam?.query)).toContain(JSON.stringify(cam?.definition).slice(1, -1));
    }
  });

  it('have a multi-value $node variable (All = .*) over label node, before $camera (which it filters)', () => {
    for (const d of dashboards) {
      const names = d.templating.list.map((v) => v.name);
      const node = d.templating.list.find((v) => v.name === 'node');
      expect(node, d.title).toMatchObject({
        type: 'query',
        multi: true,
        includeAll: true,
        allValue: '.*',
        datasource: DS,
      });
      expect(node?.definition).toMatch(/^label_values\(vigil_\w+, node\)$/);
      expect(JSON.stringify(node?.query)).toContain(node?.definition);
      expect(names.indexOf('node'), d.title).toBeLessThan(names.indexOf('camera'));
    }
  });

  it('cover what the overview and recognition dashboards promise', () => {
    const exprs = (title: string) =>
      queries
        .filter((q) => q.dashboard === title)
        .map((q) => q.expr)
        .join('\n');
    const overview = exprs('Vigil overview');
    for (const m of [
      'vigil_frames_decoded_total',
      'vigil_frames_processed_total',
      'vigil_frames_sent_total',
      'vigil_frames_dropped_total',
      'vigil_capture_to_send_seconds_bucket',
      'vigil_capture_to_display_seconds_bucket',
      'vigil_batch_size_bucket',
      'vigil_inference_duration_seconds_bucket',
      'vigil_event_loop_lag_seconds',
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'vigil_stream_state',
      'vigil_stream_reconnects_total',
      'vigil_ws_clients',
    ])
      expect(overview, m).toContain(m);
    for (const p of [0.5, 0.95, 0.99])
      expect(overview).toContain(
        `histogram_quantile(${p}, sum by (le, stream) (rate(vigil_capture_to_send_seconds_bucket`,
      );
    const recognition = exprs('Vigil recognition');
    for (const m of Object.keys(ANNOUNCED).concat('vigil_detections_total'))
      expect(recognition, m).toContain(m);
  });

  describe('PromQL usage', () => {
    for (const q of queries) {
      const where = `${q.dashboard} / ${q.panel} [${q.refId}]`;
      it(where, () => {
        const e = q.expr;
        // every series name is a known metric; per-camera metrics filter on $camera
        for (const m of e.matchAll(/\b((?:vigil|process|nodejs)_[a-z0-9_]+|up)\b(\{[^}]*\})?/g)) {
          const info = lookup(m[1] as string);
          expect(info, `${where}: unknown metric ${m[1]}`).not.toBeNull();
          // every series of a cluster node carries `node` (Registry.setDefaultLabels), up too (file_sd)
          expect(m[2] ?? '', `${where}: ${m[1]} must filter node=~"$node"`).toContain('node=~"$node"');
          if (info?.labels.includes('stream'))
            expect(m[2] ?? '', `${where}: ${m[1]} must filter stream=~"$camera"`).toContain(
              'stream=~"$camera"',
            );
        }
        // rate()/increase() only over counters and histogram series, on Grafana's intervals
        for (const m of e.matchAll(/\b(rate|irate|increase)\((\w+)(\{[^}]*\})?\[([^\]]+)\]\)/g)) {
          const info = lookup(m[2] as string);
          expect(
            info?.type === 'counter' || info?.suffix,
            `${where}: ${m[1]}() over gauge ${m[2]}`,
          ).toBeTruthy();
          expect(['$__rate_interval', '$__range'], `${where}: window [${m[4]}]`).toContain(m[4]);
          if (m[1] === 'rate' || m[1] === 'irate') expect(m[4], where).toBe('$__rate_interval');
        }
        // no counter shown raw: wrapped in rate() or increase()
        for (const m of e.matchAll(/\b(\w+_total)\b(\{[^}]*\})?(\[)?/g))
          expect(m[3], `${where}: counter ${m[1]} without a range`).toBe('[');
        // histogram_quantile(q, sum by (le, ...) (rate(X_bucket[$__rate_interval])))
        for (const m of e.matchAll(/histogram_quantile\(([^,]+),\s*sum by \(([^)]*)\) \(rate\((\w+)\{/g)) {
          expect(Number(m[1]), where).toBeGreaterThan(0);
          expect(Number(m[1]), where).toBeLessThan(1);
          expect(
            (m[2] as string).split(',').map((s) => s.trim()),
            `${where}: sum by must keep le`,
          ).toContain('le');
          expect(m[3], where).toMatch(/_bucket$/);
        }
        expect(
          e.match(/histogram_quantile\(/g)?.length ?? 0,
          `${where}: histogram_quantile not in canonical form`,
        ).toBe(
          [...e.matchAll(/histogram_quantile\(([^,]+),\s*sum by \(([^)]*)\) \(rate\((\w+)\{/g)].length +
            [...e.matchAll(/histogram_quantile\(([^,]+),\s*sum by \(([^)]*)\) \(rate\((\w+)\[/g)].length,
        );
        // buckets only in quantiles or heatmaps
        if (/_bucket\b/.test(e))
          expect(/histogram_quantile|sum by \(le\)/.test(e), `${where}: raw _bucket`).toBe(true);
      });
    }
  });
});

describe('Grafana provisioning', () => {
  it('provisions the compose Prometheus as the default data source and the dashboards folder', () => {
    const ds = parse(readFileSync('grafana/provisioning/datasources/prometheus.yml', 'utf8')) as {
      apiVersion: number;
      datasources: Array<Record<string, unknown>>;
    };
    expect(ds.apiVersion).toBe(1);
    expect(ds.datasources).toHaveLength(1);
    expect(ds.datasources[0]).toMatchObject({
      type: 'prometheus',
      url: 'http://prometheus:9090',
      isDefault: true,
      access: 'proxy',
    });
    const prom = parse(readFileSync('prometheus/prometheus.yml', 'utf8')) as {
      global: { scrape_interval: string };
    };
    const jsonData = (ds.datasources[0]?.jsonData ?? {}) as { timeInterval?: string };
    expect(jsonData.timeInterval).toBe(prom.global.scrape_interval);
    const dash = parse(readFileSync('grafana/provisioning/dashboards/vigil.yml', 'utf8')) as {
      apiVersion: number;
      providers: Array<Record<string, unknown>>;
    };
    expect(dash.apiVersion).toBe(1);
    expect(dash.providers[0]).toMatchObject({ type: 'file', folder: 'Vigil' });
  });
});
