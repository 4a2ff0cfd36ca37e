// The live page in a real Chromium against a real Vigil, with sources that need no data: the embedded
// demo (faces) and an ffmpeg test pattern. Grid, overlay, per-tile stats, pausing hidden video,
// reconnecting after a server restart. The RTSP / recognition parts are in viewer-rtsp.test.ts.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Vigil } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';
import { browserUnavailable, launchBrowser, setPageVisibility, until } from '../helpers/browser.js';
import { metricSum, parseMetrics } from '../helpers/ws-client.js';
import { skipUnless } from '../helpers/requirements.js';

const unavailable = browserUnavailable();
const skip = skipUnless(unavailable, 'viewer tests in Chromium');

interface Snap {
  state: string;
  subscribed: boolean;
  visible: boolean;
  framesShown: number;
  shownFps: number;
  latencyMs: number | null;
  rates: { processedFps: number } | null;
  header: { seq: number; captureTs: number } | null;
}

const dataDir = mkdtempSync(join(tmpdir(), 'vigil-viewer-'));
const config = (port: number) =>
  validateConfig({
    server: { host: '127.0.0.1', port },
    log: { level: 'silent' },
    dataDir,
    inference: { backend: 'wasm' },
    streams: [
      { id: 'demo', demo: true, detectFps: 5, displayFps: 10 },
      {
        id: 'pattern',
        lavfi: 'testsrc2=size=320x180:rate=10',
        width: 320,
        height: 180,
        detectFps: 1,
        displayFps: 10,
      },
    ],
  });

const tile = (page: Page, id: string) =>
  page.evaluate((i) => (window as unknown as { vigil: { tile(id: string): Snap } }).vigil.tile(i), id);

describe.skipIf(skip)('the live page in a real Chromium (demo and test-pattern cameras)', () => {
  let vigil: Vigil;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    [vigil, browser] = await Promise.all([Vigil.start(config(0)), launchBrowser()]);
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`http://127.0.0.1:${vigil.address.port}/`);
  });
  afterAll(async () => {
    await browser?.close();
    await vigil?.stop();
  });

  it('shows live video that changes, boxes on the overlay, and per-tile stats', async () => {
    await page.waitForSelector('section.tile[data-stream="demo"][data-state="live"]', { timeout: 20_000 });
    await page.waitForFunction(
      () => (document.querySelector('[data-stream="demo"] canvas.video') as HTMLCanvasElement).width > 0,
      null,
      { timeout: 10_000 },
    );
    const sample = () =>
      page.evaluate(() => {
        const v = document.querySelector('[data-stream="demo"] canvas.video') as HTMLCanvasElement;
        const d = (v.getContext('2d') as CanvasRenderingContext2D).getImageData(0, 0, v.width, v.height).data;
        let sum = 0;
        for (let i = 0; i < d.length; i += 97) sum += d[i] as number;
        return { w: v.width, h: v.height, sum };
      });
    const a = await sample();
    await page.waitForTimeout(1500);
    const b = await sample();
    expect([a.w, a.h]).toEqual([640, 360]);
    expect(a.sum).toBeGreaterThan(0);
    expect(b.sum).not.toBe(a.sum); // the picture moves

    // the demo shows faces: boxes are drawn on the overlay from the metadata, and can be turned off
    const overlayPainted = () =>
      page.evaluate(() => {
        const o = document.querySelector('[data-stream="demo"] canvas.overlay') as HTMLCanvasElement;
        const d = (o.getContext('2d') as CanvasRenderingContext2D).getImageData(0, 0, o.width, o.height).data;
        for (let i = 3; i < d.length; i += 4) if ((d[i] as number) > 0) return true;
        return false;
      });
    await until(overlayPainted, 10_000, 'boxes on the overlay');
    await page.uncheck('#overlay');
    expect(await overlayPainted()).toBe(false);
    await page.check('#overlay');
    await until(overlayPainted, 5_000, 'boxes back on the overlay');

    // per tile: fps shown (measured in the page), processed fps and drops (server stats), latency
    await page.waitForFunction(
      () => {
        const t = (window as unknown as { vigil: { tile(id: string): Snap } }).vigil.tile('demo');
        return t.shownFps > 3 && (t.rates?.processedFps ?? 0) > 0 && t.latencyMs !== null;
      },
      null,
      { timeout: 10_000 },
    );
    const text = async (cls: string) =>
      (await page.locator(`[data-stream="demo"] .info .${cls}`).textContent()) ?? '';
    // the figures on the tile are refreshed once a second
    await expect.poll(async () => Number.parseFloat(await text('fps')), { timeout: 3000 }).toBeGreaterThan(3);
    expect(Number.parseFloat(await text('processed'))).toBeGreaterThan(0);
    expect(await text('drops')).toMatch(/^\d+\.\d\/s$/);
    expect(await text('latency')).toMatch(/^\d+ ms$/);
    expect(Number.parseFloat(await text('latency'))).toBeLessThan(5000);
    // the page reports capture-to-display latency (displayed messages), exported as a metric
    await until(
      async () =>
        metricSum(
          parseMetrics(await (await fetch(`http://127.0.0.1:${vigil.address.port}/metrics`)).text()),
          'vigil_capture_to_display_seconds_count',
          { stream: 'demo' },
        ) > 0,
      5_000,
      'vigil_capture_to_display_seconds',
    );
    // without recognition the alerts panel and the People view show the server's reason
    expect(await page.locator('#alerts .panel-note').textContent()).toContain(
      'face recognition is not enabled',
    );
  });

  it('unsubscribes from video it cannot show (off-screen tile, hidden tab) and resumes at the newest frame', async () => {
    await until(() => vigil.context.hub.hasSubscribers('pattern'), 10_000, 'the page to subscribe to pattern');
    // a narrow window: one column, the second tile below the fold
    await page.setViewportSize({ width: 640, height: 400 });
    await until(() => !vigil.context.hub.hasSubscribers('pattern'), 5_000, 'pattern unsubscribed while off-screen');
    expect(vigil.context.hub.hasSubscribers('demo')).toBe(true);
    const before = (await tile(page, 'pattern')).framesShown;
    await page.waitForTimeout(1000);
    expect((await tile(page, 'pattern')).framesShown).toBe(before); // nothing arrives, nothing decoded

    await page.locator('[data-stream="pattern"]').scrollIntoViewIfNeeded();
    await until(
      () => vigil.context.hub.hasSubscribers('pattern'),
      5_000,
      'pattern subscribed again when scrolled in',
    );
    await page.waitForFunction(
      (n) =>
        (window as unknown as { vigil: { tile(id: string): Snap } }).vigil.tile('pattern').framesShown > n,
      before,
      { timeout: 5_000 },
    );
    // it resumes at a fresh frame, not a backlog from while it was paused
    const resumed = await tile(page, 'pattern');
    expect(Date.now() - (resumed.header?.captureTs ?? 0)).toBeLessThan(2000);

    // the whole tab hidden: no stream at all
    await setPageVisibility(page, 'hidden');
    await until(
      () => !vigil.context.hub.hasSubscribers('pattern') && !vigil.context.hub.hasSubscribers('demo'),
      5_000,
      'every stream unsubscribed while the tab is hidden',
    );
    const hidden = (await tile(page, 'pattern')).framesShown;
    await setPageVisibility(page, 'visible');
    await until(() => vigil.context.hub.hasSubscribers('pattern'), 5_000, 'pattern subscribed when the tab shows');
    await page.waitForFunction(
      (n) =>
        (window as unknown as { vigil: { tile(id: string): Snap } }).vigil.tile('pattern').framesShown > n,
      hidden,
      { timeout: 5_000 },
    );
    await page.setViewportSize({ width: 1280, height: 800 });
    await until(() => vigil.context.hub.hasSubscribers('demo'), 5_000, 'demo subscribed again');
  });

  it('comes back by itself when the server restarts on the same port, without a reload', async () => {
    await page.evaluate(() => {
      (window as unknown as { marker: number }).marker = 42;
    });
    const port = vigil.address.port;
    await vigil.stop();
    await page.waitForSelector('#conn.closed', { timeout: 5_000 });
    await page.waitForSelector('section.tile[data-stream="demo"][data-state="offline"]', { timeout: 5_000 });
    const shown = (await tile(page, 'demo')).framesShown;
    vigil = await Vigil.start(config(port));
    await page.waitForFunction(
      (n) => {
        const v = (window as unknown as { vigil: { connection: string; tile(id: string): Snap } }).vigil;
        const t = v.tile('demo');
        return v.connection === 'open' && t.state === 'live' && t.framesShown > n + 3;
      },
      shown,
      { timeout: 25_000 },
    );
    expect(await page.evaluate(() => (window as unknown as { marker: number }).marker)).toBe(42);
    expect(vigil.context.hub.hasSubscribers('demo')).toBe(true);
    expect(await page.locator('#conn').textContent()).toBe('connected');

    await page.goto(`http://127.0.0.1:${port}/#people`);
    await expect
      .poll(() => page.locator('#people-note').textContent(), { timeout: 5_000 })
      .toContain('face recognition is not enabled');
  });

  it('asks for the access token when the server requires one (server.auth), and keeps it', async () => {
    const token = 'viewer-test-token-0123456789';
    const locked = await Vigil.start(
      validateConfig({
        server: { host: '127.0.0.1', port: 0, auth: { token, adminToken: 'admin-test-token-0123456789' } },
        log: { level: 'silent' },
        pipeline: 'passthrough',
        dataDir,
        streams: [
          { id: 'pattern', lavfi: 'testsrc2=size=320x180:rate=10', width: 320, height: 180, displayFps: 10 },
        ],
      }),
    );
    const ctx = await browser.newContext();
    try {
      const p = await ctx.newPage();
      const url = `http://127.0.0.1:${locked.address.port}/`;
      await p.goto(url);
      await p.waitForSelector('#token-form:not([hidden])', { timeout: 10_000 });
      expect(await p.locator('#token-msg').textContent()).toContain('missing or wrong token');
      await p.fill('#token-input', 'not-the-token-0123456789');
      await p.click('#token-form button[type="submit"]');
      await expect
        .poll(() => p.locator('#token-msg').textContent(), { timeout: 10_000 })
        .toContain('The saved token was refused');
      await p.fill('#token-input', token);
      await p.click('#token-form button[type="submit"]');
      await p.waitForSelector('section.tile[data-stream="pattern"][data-state="live"]', { timeout: 10_000 });
      await p.waitForFunction(
        () =>
          (window as unknown as { vigil: { tile(id: string): Snap } }).vigil.tile('pattern').framesShown > 0,
      );
      expect(await p.isHidden('#token-form')).toBe(true);
      // kept in this browser: a reload connects at once
      await p.reload();
      await p.waitForFunction(
        () =>
          (window as unknown as { vigil: { tile(id: string): Snap } }).vigil.tile('pattern')?.framesShown > 0,
        null,
        { timeout: 10_000 },
      );
      // or given in the address once (?token=), which is then removed from it
      const q = await browser.newPage();
      await q.goto(`${url}?token=${token}`);
      await q.waitForSelector('section.tile[data-stream="pattern"][data-state="live"]', { timeout: 10_000 });
      expect(q.url()).toBe(url);
      await q.close();
    } finally {
      await ctx.close();
      await locked.stop();
    }
  });
});
