import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Vigil } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';
import { browserUnavailable, launchBrowser } from '../helpers/browser.js';
import { metricSum, parseMetrics } from '../helpers/ws-client.js';

const unavailable = browserUnavailable();
if (unavailable) console.warn(`SKIPPED viewer tests: ${unavailable}`);

describe.skipIf(unavailable)('the live page in a real Chromium', () => {
  let vigil: Vigil;
  beforeAll(async () => {
    vigil = await Vigil.start(
      validateConfig({
        server: { host: '127.0.0.1', port: 0 },
        log: { level: 'silent' },
        inference: { backend: 'wasm' },
        streams: [{ id: 'demo', demo: true, detectFps: 5, displayFps: 10 }],
      }),
    );
  });
  afterAll(() => vigil?.stop());

  it('shows live video that changes over time, with the detections drawn on the overlay', async () => {
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${vigil.address.port}/`);
      await page.waitForSelector('section.tile[data-state="live"]', { timeout: 20_000 });
      const sample = () =>
        page.evaluate(() => {
          const v = document.querySelector('section.tile canvas.video') as HTMLCanvasElement;
          const o = document.querySelector('section.tile canvas.overlay') as HTMLCanvasElement;
          const px = (c: HTMLCanvasElement) =>
            Array.from(
              (c.getContext('2d') as CanvasRenderingContext2D).getImageData(0, 0, c.width, c.height).data,
            );
          const video = px(v);
          let sum = 0;
          for (let i = 0; i < video.length; i += 97) sum += video[i] as number;
          const overlayPainted = px(o)
            .filter((_, i) => i % 4 === 3)
            .some((a) => a > 0);
          return { w: v.width, h: v.height, sum, overlayPainted };
        });
      await page.waitForFunction(
        () => (document.querySelector('section.tile canvas.video') as HTMLCanvasElement)?.width > 0,
        null,
        { timeout: 10_000 },
      );
      const a = await sample();
      await page.waitForTimeout(1500);
      const b = await sample();
      expect([a.w, a.h]).toEqual([640, 360]);
      expect(a.sum).toBeGreaterThan(0);
      expect(b.sum).not.toBe(a.sum); // the picture moves
      // the demo shows faces: boxes are drawn on the overlay from the metadata
      await page.waitForFunction(
        () => {
          const o = document.querySelector('section.tile canvas.overlay') as HTMLCanvasElement;
          const d = (o.getContext('2d') as CanvasRenderingContext2D).getImageData(
            0,
            0,
            o.width,
            o.height,
          ).data;
          for (let i = 3; i < d.length; i += 4) if ((d[i] as number) > 0) return true;
          return false;
        },
        null,
        { timeout: 10_000 },
      );
      const fps = await page.locator('section.tile .fps').innerText();
      expect(Number.parseFloat(fps)).toBeGreaterThan(3);
      // the page reports capture-to-display latency, exported as a metric
      await page.waitForTimeout(2000);
      const m = parseMetrics(await (await fetch(`http://127.0.0.1:${vigil.address.port}/metrics`)).text());
      expect(metricSum(m, 'vigil_capture_to_display_seconds_count', { stream: 'demo' })).toBeGreaterThan(0);
    } finally {
      await browser.close();
    }
  });
});
