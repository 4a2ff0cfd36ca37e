/**
 * The alert sinks without a broker: the webhook sink against a real local HTTP server (retry,
 * refusal, the in-flight bound, each counted), the fan-out going on past a sink that throws, and
 * person names as MQTT topic levels and Home Assistant ids.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Database from 'better-sqlite3';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { AlertStore } from '../../src/faces/alerts.js';
import { WebhookSinkSchema } from '../../src/output/sinks/config.js';
import { objectId, topicSlug } from '../../src/output/sinks/mqtt/topics.js';
import { AlertFanOut, type AlertSink, type DeliveryResult } from '../../src/output/sinks/sink.js';
import { WebhookSink } from '../../src/output/sinks/webhook.js';

const log = pino({ level: 'silent' });

function tally() {
  const counts: Record<string, number> = {};
  return {
    counts,
    count: (sink: string, result: DeliveryResult) => {
      counts[`${sink}:${result}`] = (counts[`${sink}:${result}`] ?? 0) + 1;
    },
  };
}

const until = async (ok: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('webhook sink', () => {
  it('retries a 503, gives up on a 400, drops past maxPending; every outcome counted', async () => {
    const bodies: Array<{ path: string; id: number }> = [];
    let first = true;
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => {
        body += d;
      });
      req.on('end', () => {
        bodies.push({ path: req.url ?? '', id: JSON.parse(body).id });
        if (req.url === '/refuse') return res.writeHead(400).end();
        if (req.url === '/slow') return void setTimeout(() => res.writeHead(200).end(), 300);
        if (first) {
          first = false;
          return res.writeHead(503).end();
        }
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const hook = (path: string, maxPending = 100) =>
      WebhookSinkSchema.parse({ url: `${base}${path}`, retry: { baseDelayMs: 20, maxPending } });
    const t = tally();
    const sink = new WebhookSink([hook('/ok'), hook('/refuse'), hook('/slow', 1)], t.count, log);
    const store = new AlertStore(new Database(':memory:'));
    const add = (track: number) =>
      store.add(
        { camera: 'cam', sub_label: 'unknown', person_id: null, score: 0.2, track_id: track, start_time: 1 },
        undefined,
      );
    const a = add(1);
    const b = add(2);
    sink.deliver(a);
    sink.deliver(b); // /slow is still busy with a: dropped there
    await until(() => (t.counts['webhook:delivered'] ?? 0) === 3 && (t.counts['webhook:failed'] ?? 0) === 2);
    expect(t.counts).toEqual({
      'webhook:retried': 1,
      'webhook:delivered': 3,
      'webhook:failed': 2,
      'webhook:dropped': 1,
    });
    expect(bodies.filter((x) => x.path === '/ok').map((x) => x.id)).toEqual(
      expect.arrayContaining([a.id, a.id, b.id]),
    );
    server.close();
  });

  it('the fan-out gives every alert to the other sinks when one throws', () => {
    const got: number[] = [];
    const broken: AlertSink = {
      name: 'broken',
      deliver: () => {
        throw new Error('boom');
      },
      close: async () => {},
    };
    const fine: AlertSink = { name: 'fine', deliver: (x) => void got.push(x.id), close: async () => {} };
    const store = new AlertStore(new Database(':memory:'));
    const alert = store.add(
      { camera: 'cam', sub_label: 'anna', person_id: 1, score: 0.9, track_id: 1, start_time: 1 },
      undefined,
    );
    new AlertFanOut([broken, fine], log).publish(alert);
    expect(got).toEqual([alert.id]);
  });
});

describe('person names as MQTT topic levels', () => {
  it('keeps Unicode, removes what MQTT gives a meaning and control characters', () => {
    expect(topicSlug('José María')).toBe('josé_maría');
    expect(topicSlug('a/b+c#d')).toBe('a_b_c_d');
    expect(topicSlug('Ann\u0000a\u001f\u200b')).toBe('anna');
    expect(topicSlug('李雷')).toBe('李雷');
    expect(topicSlug('///')).toMatch(/^person_[0-9a-f]{8}$/);
    for (const n of ['x/y', '+', '#', 'tab\there', '\u0085'])
      expect(topicSlug(n)).not.toMatch(/[/+#\p{Cc}]/u);
  });

  it('Home Assistant ids are [a-z0-9_], accents stripped, other names kept apart by a hash', () => {
    expect(objectId('José María')).toBe('jose_maria');
    expect(objectId('Anna')).toBe('anna');
    const a = objectId('李雷');
    const b = objectId('韩梅梅');
    expect(a).toMatch(/^person_[0-9a-f]{8}$/);
    expect(a).not.toBe(b);
    expect(objectId('Zoë 李')).toMatch(/^zoe_[0-9a-f]{8}$/);
  });
});
