// Training a style from the page, in a real Chromium against Vigil (stylize pipeline, demo camera,
// tokens set): a viewing token is refused (403 on the page), a corrupt upload gets the server's
// message on the page, a painting dropped on the live view trains (few steps) with progress and a
// preview, the new style appears in the camera's picker and restyles it; cancel stops a long one.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Vigil } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';
import { browserUnavailable, launchBrowser } from '../helpers/browser.js';
import { skipUnless } from '../helpers/requirements.js';
import { bandsPainting } from '../helpers/styles.js';

const skip = skipUnless(browserUnavailable(), 'style training from the page');
const TOKEN = 'viewer-test-token-0123456789';
const ADMIN = 'admin-test-token-0123456789';

interface Snap {
  header: { style?: string | null } | null;
}
const msg = (page: Page) => page.locator('#train-msg').textContent();

/** Drops a file on the live view, as a user dragging it from the desktop. */
async function dropFile(page: Page, name: string, bytes: Buffer): Promise<void> {
  const dt = await page.evaluateHandle(
    ({ name, b64 }) => {
      const dt = new DataTransfer();
      const data = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      dt.items.add(new File([data], name, { type: 'image/jpeg' }));
      return dt;
    },
    { name, b64: bytes.toString('base64') },
  );
  await page.dispatchEvent('#live-view', 'dragover', { dataTransfer: dt });
  await page.dispatchEvent('#live-view', 'drop', { dataTransfer: dt });
}

describe.skipIf(skip)('style training from the page (Chromium)', () => {
  let vigil: Vigil;
  let browser: Browser;
  let page: Page;
  let painting: Buffer;

  beforeAll(async () => {
    painting = await bandsPainting();
    browser = await launchBrowser();
    vigil = await Vigil.start(
      validateConfig({
        server: { host: '127.0.0.1', port: 0, auth: { token: TOKEN, adminToken: ADMIN } },
        log: { level: 'silent' },
        pipeline: 'stylize',
        dataDir: mkdtempSync(join(tmpdir(), 'vigil-style-training-')),
        inference: { backend: 'wasm' },
        streams: [{ id: 'cam1', demo: true, width: 320, height: 180, displayFps: 4 }],
      }),
    );
    page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await vigil?.stop();
  });

  const open = async (token: string) => {
    await page.goto(`http://127.0.0.1:${vigil.address.port}/?token=${token}`);
    await page.waitForSelector('#style-training:not([hidden])', { timeout: 20_000 });
  };

  it('needs the admin token, and shows why a corrupt painting is refused', async () => {
    await open(TOKEN);
    await page.setInputFiles('#train-file', { name: 'bands.jpg', mimeType: 'image/jpeg', buffer: painting });
    await expect.poll(() => msg(page), { timeout: 10_000 }).toMatch(/need the admin token/);
    await open(ADMIN);
    await page.setInputFiles('#train-file', {
      name: 'broken.jpg',
      mimeType: 'image/jpeg',
      buffer: Buffer.from('this is not a JPEG, whatever its name says'),
    });
    await expect.poll(() => msg(page), { timeout: 10_000 }).toMatch(/broken\.jpg: not a readable image/);
    expect(await page.locator('#train-msg').getAttribute('class')).toMatch(/\berror\b/);
  }, 60_000);

  it('trains a dropped painting with progress and a preview; the style restyles the camera', async () => {
    await open(ADMIN);
    await page.fill('#train-steps', '6');
    await dropFile(page, 'Bands Painting.jpg', painting);
    await expect
      .poll(() => msg(page), { timeout: 20_000 })
      .toMatch(/training "bands-painting": step [1-6] of 6/);
    await page.waitForSelector('#train-preview:not([hidden])', { timeout: 60_000 });
    await expect.poll(() => msg(page), { timeout: 90_000 }).toMatch(/"bands-painting" is ready/);
    expect(await page.locator('#train-progress').evaluate((p) => (p as HTMLProgressElement).value)).toBe(6);
    const select = page.locator('[data-stream="cam1"] select.style-select');
    await expect
      .poll(() => select.locator('option').allTextContents(), { timeout: 10_000 })
      .toContain('bands-painting (bands-painting)');
    await select.selectOption('bands-painting');
    await page.waitForFunction(
      () =>
        (window as unknown as { vigil: { tile(id: string): Snap } }).vigil.tile('cam1').header?.style ===
        'bands-painting',
      null,
      { timeout: 30_000 },
    );
  }, 150_000);

  it('cancel stops a training and nothing appears in the picker', async () => {
    await open(ADMIN);
    await page.fill('#train-steps', '5000');
    await dropFile(page, 'long one.jpg', painting);
    await expect.poll(() => msg(page), { timeout: 30_000 }).toMatch(/"long-one": step [1-9]\d* of 5000/);
    await page.click('#train-cancel');
    await expect
      .poll(() => msg(page), { timeout: 30_000 })
      .toMatch(/cancelled "long-one".*nothing was saved/);
    expect(await page.locator('#train-cancel').isHidden()).toBe(true);
    const options = await page.locator('[data-stream="cam1"] select.style-select option').allTextContents();
    expect(options.some((o) => o.startsWith('long-one'))).toBe(false);
  }, 90_000);
});
