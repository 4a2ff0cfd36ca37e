/** Per-stream rates for the viewer page (decoded, processed, sent, dropped per second), every 2 s. */
import type { Counter } from 'prom-client';
import type { WsHub } from '../../output/ws-hub.js';
import { defineModule } from '../module.js';
import type { BaseContext } from './base.js';
import type { OutputContext } from './output.js';
import type { SourcesContext } from './sources.js';

const STATS_EVERY_MS = 2000;

type Needs = BaseContext & SourcesContext & OutputContext;

export const statsModule = defineModule<Needs, object>({
  name: 'live stats',
  start: ({ metrics, sources, hub }, scope) => {
    const counters = {
      decoded: metrics.framesDecoded,
      processed: metrics.framesProcessed,
      sent: metrics.framesSent,
      dropped: metrics.framesDropped,
    };
    let prev = { totals: new Map<string, number>(), at: performance.now() };
    const timer = setInterval(async () => {
      const cur = { totals: await totalsByStream(counters), at: performance.now() };
      const ids = sources.map((s) => s.id); // the cameras now (cluster mode: they change)
      broadcastRates(hub, ids, prev, cur);
      prev = cur;
    }, STATS_EVERY_MS);
    timer.unref();
    scope.onStop(() => clearInterval(timer));
    return {};
  },
});

type Sample = { totals: Map<string, number>; at: number };

/** `stream|name` -> the counter's sum over its other labels. */
async function totalsByStream(counters: Record<string, Counter<string>>): Promise<Map<string, number>> {
  const totals = new Map<string, number>();
  for (const [name, counter] of Object.entries(counters)) {
    for (const v of (await counter.get()).values) {
      const key = `${v.labels.stream}|${name}`;
      totals.set(key, (totals.get(key) ?? 0) + v.value);
    }
  }
  return totals;
}

function broadcastRates(hub: WsHub, ids: string[], prev: Sample, cur: Sample): void {
  const dt = (cur.at - prev.at) / 1000;
  const rate = (id: string, name: string) =>
    Math.max(0, ((cur.totals.get(`${id}|${name}`) ?? 0) - (prev.totals.get(`${id}|${name}`) ?? 0)) / dt);
  const streams = Object.fromEntries(
    ids.map((id) => [
      id,
      {
        decodedFps: rate(id, 'decoded'),
        processedFps: rate(id, 'processed'),
        sentFps: rate(id, 'sent'),
        droppedPerSecond: rate(id, 'dropped'),
      },
    ]),
  );
  hub.broadcast({ type: 'stats', streams });
}
