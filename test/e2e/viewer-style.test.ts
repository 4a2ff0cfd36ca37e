// The style picker in a real Chromium against Vigil running the stylize pipeline on the real RTSP
// server's test pattern: picking a style changes the picture (pixel check on the canvas), the choice
// is per camera and survives a reload. Saves docs/img/viewer-style.png (with a shipped style when
// models/styles has one).
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Vigil } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';
import { listStyles } from '../../src/style/store.js';
import { browserUnavailable, launchBrowser, SCREENSHOT_DIR } from '../helpers/browser.js';
import { type RtspTestServer, rtspServerAvailable, startRtspServer } from '../helpers/rtsp-server.js';
import { writeRandomStyle } from '../helpers/styles.js';
import { skipUnless } from '../helpers/requirements.js';

const why = browserUnavailable() ?? (await rtspServerAvailable());
const skip = skipUnless(why, 'viewer style picker tests');

interface Snap {
  state: string;
  framesShown: number;
  chosenStyle?: string | null;
  header: { seq: number; style?: string | null; strength?: number } | null;
}
const tile = (page: Page, id: string) =>
  page.evaluate((i) => (window as unknown as { vigil: { tile(id: string): Snap } }).vigil.tile(i), id);

/** Every 7th byte of the tile's video canvas. */
const pixels = (page: Page, id: string) =>
  page.evaluate((i) => {
    const v = document.querySelector(`[data-stream="${i}"] canvas.video`) as HTMLCanvasElement;
    const d = (v.getContext('2d') as CanvasRenderingContext2D).getImageData(0, 0, v.width, v.height).data;
    const out: number[] = [];
    for (let k = 0; k < d.length; k += 7) if (k % 4 !== 3) out.push(d[k] as number);
    return out;
  }, id);
const mad = (a: number[], b: number[]) => a.reduce((s, v, i) => s + Math.abs(v - (b[i] ?? 0)), 0) / a.length;

describe.skipIf(skip)('the style picker (stylize pipeline, RTSP camera)', () => {
  let rtsp: RtspTestServer;
  let vigil: Vigil;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    const dataDir = mkdtempSync(join(tmpdir(), 'vigil-viewer-style-'));
    await writeRandomStyle(join(dataDir, 'styles'), 'zz-test');
    [rtsp, browser] = await Promise.all([
      startRtspServer({ width: 640, height: 360, fps: 15 }),
      launchBrowser(),
    ]);
    vigil = await Vigil.start(
      validateConfig({
        server: { host: '127.0.0.1', port: 0 },
        log: { level: 'silent' },
        pipeline: 'stylize',
        dataDir,
        inference: { backend: 'wasm' },
        streams: [
          { id: 'cam1', url: rtsp.url, width: 480, height: 270, displayFps: 8 },
          { id: 'cam2', demo: true, width: 480, height: 270, displayFps: 4 },
        ],
      }),
    );
    page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    await page.goto(`http://127.0.0.1:${vigil.address.port}/`);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await vigil?.stop();
    await rtsp?.stop();
  });

  it('picking a style changes the picture of that camera only, and the choice survives a reload', async () => {
    await page.waitForSelector('section.tile[data-stream="cam1"][data-state="live"]', { timeout: 20_000 });
    const select = page.locator('[data-stream="cam1"] select.style-select');
    await expect
      .poll(() => select.locator('option').allTextContents(), { timeout: 10_000 })
      .toContain('zz-test (random weights)');
    await page.waitForFunction(
      () => (window as unknown as { vigil: { tile(id: string): Snap } }).vigil.tile('cam1').framesShown > 3,
    );
    const before = await pixels(page, 'cam1');
    await page.waitForTimeout(300);
    const before2 = await pixels(page, 'cam1');
    const still = mad(before, before2); // the pattern moves a little between frames

    await select.selectOption('zz-test');
    await page.waitForFunction(
      () =>
        (window as unknown as { vigil: { tile(id: string): Snap } }).vigil.tile('cam1').header?.style ===
        'zz-test',
      null,
      { timeout: 20_000 },
    );
    await page.waitForTimeout(500);
    const styled = await pixels(page, 'cam1');
    expect(mad(before, styled)).toBeGreaterThan(Math.max(8, 3 * still));
    // the other camera is not restyled
    expect((await tile(page, 'cam2')).header?.style ?? null).toBeNull();

    // strength 0: the original picture again
    await page.locator('[data-stream="cam1"] input.style-strength').fill('0');
    await page.locator('[data-stream="cam1"] input.style-strength').dispatchEvent('change');
    await page.waitForFunction(
      () =>
        (window as unknown as { vigil: { tile(id: string): Snap } }).vigil.tile('cam1').header?.style ===
        null,
      null,
      { timeout: 20_000 },
    );
    await page.locator('[data-stream="cam1"] input.style-strength').fill('1');
    await page.locator('[data-stream="cam1"] input.style-strength').dispatchEvent('change');

    await page.reload();
    await page.waitForSelector('section.tile[data-stream="cam1"][data-state="live"]', { timeout: 20_000 });
    await page.waitForFunction(
      () =>
        (window as unknown as { vigil: { tile(id: string): Snap } }).vigil.tile('cam1').header?.style ===
        'zz-test',
      null,
      { timeout: 20_000 },
    );
    expect((await tile(page, 'cam1')).chosenStyle).toBe('zz-test');

    // the screenshot shows a shipped style on the demo camera when there is one
    const styles = [...listStyles().keys()];
    const shipped = styles.includes('starry-night') ? 'starry-night' : styles[0];
    if (shipped) {
      await page.locator('[data-stream="cam2"] select.style-select').selectOption(shipped);
      await page.waitForFunction(
        (s) =>
          (window as unknown as { vigil: { tile(id: string): Snap } }).vigil.tile('cam2').header?.style === s,
        shipped,
        { timeout: 20_000 },
      );
      await page.waitForTimeout(800);
    }
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'viewer-style.png') });
  }, 120_000);
});
