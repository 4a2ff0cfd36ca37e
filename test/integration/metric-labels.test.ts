import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Vigil } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';
import { cropJpeg, decodeImage } from '../../src/util/image.js';
import { readManifests } from '../../src/inference/model-loader.js';
import { STREAM_STATES, TRACK_OUTCOMES } from '../../src/metrics/metrics.js';
import { DELIVERY_RESULTS } from '../../src/output/sinks/sink.js';
import { FRAME_COPY_SITES } from '../../src/util/frame-copies.js';
import { samplePhoto } from '../helpers/images.js';
import { parseMetrics } from '../helpers/ws-client.js';
import { TestViewer } from '../helpers/ws-client.js';

/** Label values of every vigil_* series: { label: Set(values) }, and the series names. */
function labels(text: string): { byLabel: Map<string, Set<string>>; series: Set<string> } {
  const byLabel = new Map<string, Set<string>>();
  const series = new Set<string>();
  for (const key of parseMetrics(text).keys()) {
    if (!key.startsWith('vigil_')) continue;
    series.add(key);
    for (const m of key.matchAll(/(\w+)="([^"]*)"/g)) {
      const [, k, v] = m as unknown as [string, string, string];
      if (!byLabel.has(k)) byLabel.set(k, new Set());
      byLabel.get(k)?.add(v);
    }
  }
  return { byLabel, series };
}

// Labels must stay bounded: camera ids, stages, reasons, models, states, and people only as far as
// the gallery goes; never per-frame, per-track or per-request values.
describe('metric labels stay bounded', () => {
  let vigil: Vigil;
  let base: string;
  let viewer: TestViewer;
  const streams = ['faces', 'pattern'];

  beforeAll(async () => {
    vigil = await Vigil.start(
      validateConfig({
        server: { host: '127.0.0.1', port: 0 },
        log: { level: 'silent' },
        pipeline: 'recognize',
        dataDir: mkdtempSync(join(tmpdir(), 'vigil-labels-')),
        inference: { backend: 'wasm', debugDelayMs: 150 }, // some drops too
        streams: [
          { id: 'faces', demo: true, width: 320, height: 180, detectFps: 5, displayFps: 10 },
          {
            id: 'pattern',
            lavfi: 'testsrc2=size=320x180:rate=10',
            width: 320,
            height: 180,
            detectFps: 5,
            displayFps: 10,
          },
        ],
      }),
    );
    base = `http://127.0.0.1:${vigil.address.port}`;
    viewer = await TestViewer.connect(`ws://127.0.0.1:${vigil.address.port}/ws`);
    // one enrolled person (a face cut from a sample photo), so known-person labels can appear
    const img = await decodeImage(readFileSync(samplePhoto(2)));
    const face = (await vigil.context.faces?.service.engine.detect(img))?.[0];
    const jpeg = await cropJpeg(img, face?.box as [number, number, number, number], {
      margin: 0.5,
      size: 300,
    });
    expect(
      (
        await fetch(`${base}/api/people?name=Sam`, {
          method: 'POST',
          headers: { 'content-type': 'image/jpeg' },
          body: jpeg,
        })
      ).status,
    ).toBe(201);
  });
  afterAll(async () => {
    viewer?.close();
    await vigil?.stop();
  });

  it('every label takes values from a small fixed set, and series do not grow with frames or tracks', async () => {
    await new Promise((r) => setTimeout(r, 8000));
    const a = labels(await (await fetch(`${base}/metrics`)).text());
    await new Promise((r) => setTimeout(r, 6000)); // more frames, tracks, recognitions, alerts
    const b = labels(await (await fetch(`${base}/metrics`)).text());

    const allowed: Record<string, Set<string>> = {
      stream: new Set(streams),
      stage: new Set(['decode', 'queue_wait', 'inference', 'encode', 'send']),
      reason: new Set([
        'inference_busy',
        'encode_busy',
        'client_slow',
        'pool_exhausted',
        'full_pool_exhausted',
        'inference_error',
      ]),
      state: new Set(STREAM_STATES),
      cause: new Set(['exit', 'error', 'watchdog']),
      result: new Set(['known', 'unknown', ...DELIVERY_RESULTS]),
      sink: new Set(['webhook', 'websocket', 'mqtt']),
      model: new Set(Object.keys(readManifests())),
      backend: new Set(['wasm', 'cpu', 'tensorflow']),
      engine: new Set(['tfjs', 'onnx']),
      kind: new Set(['known', 'unknown']),
      outcome: new Set(TRACK_OUTCOMES),
      site: new Set(FRAME_COPY_SITES),
      le: new Set(),
    };
    for (const [label, values] of b.byLabel) {
      expect(Object.keys(allowed), `unexpected label "${label}"`).toContain(label);
      if (label === 'le') continue; // histogram buckets: fixed per metric
      for (const v of values) expect(allowed[label]?.has(v), `${label}="${v}"`).toBe(true);
    }
    for (const v of b.byLabel.get('le') ?? []) expect(v === '+Inf' || Number.isFinite(Number(v))).toBe(true);
    // no numeric-looking values except bucket bounds: no sequence numbers, track ids or timestamps
    for (const [label, values] of b.byLabel)
      if (label !== 'le') for (const v of values) expect(v, `${label}="${v}"`).not.toMatch(/^\d+$/);
    // the activity between the scrapes created no new series beyond bounded ones (new drop reasons or states)
    const added = [...b.series].filter((s) => !a.series.has(s));
    // (a camera's time-to-name histogram appears with its first named track: per stream, bounded)
    for (const s of added)
      expect(s, `new series ${s}`).toMatch(
        /reason=|state=|result=|kind=|cause=|outcome=|^vigil_time_to_name_/,
      );
    expect(b.series.size).toBeLessThan(600);
    // frames, tracks and alerts did happen meanwhile
    expect(viewer.received).toBeGreaterThan(50);
  });

  it('names no person on /metrics (readable without a token): alerts count by kind only', async () => {
    const people = (await (await fetch(`${base}/api/people`)).json()) as Array<{ id: number; name: string }>;
    expect(people.map((p) => p.name)).toContain('Sam');
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(/vigil_alerts_total\{stream="faces",kind="(known|unknown)"\} [1-9]/);
    expect(text).not.toContain('Sam');
    expect(text).not.toMatch(/person=/);
  });
});
