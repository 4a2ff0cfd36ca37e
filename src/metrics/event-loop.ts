import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Gauge } from 'prom-client';

/** Samples main-thread event-loop delay; the gauge shows the p99 since the previous scrape. */
export function trackEventLoopLag(gauge: Gauge): () => void {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  const collect = () => {
    gauge.set(h.count ? h.percentile(99) / 1e9 : 0);
    h.reset();
  };
  const timer = setInterval(collect, 5000);
  timer.unref();
  return () => {
    clearInterval(timer);
    h.disable();
  };
}
