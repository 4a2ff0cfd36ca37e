import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { componentMissing } from './system-deps.mjs';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** null when Debian's chromium is installed, else why the browser tests cannot run (shared probe of .ci/run). */
export function browserUnavailable(): string | null {
  const why = componentMissing('chromium');
  return why ? `${why} (apt-get install chromium, or set CHROMIUM_PATH)` : null;
}

/** Headless Debian chromium with the flags this closed network needs. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/**
 * Where the viewer tests save their screenshots: docs/img (referenced from README.md) when run by
 * `npm run screenshots`, else a temporary folder, so a test run leaves the working tree as it was.
 */
export const SCREENSHOT_DIR =
  process.env.VIGIL_SCREENSHOTS === '1'
    ? fileURLToPath(new URL('../../docs/img/', import.meta.url))
    : mkdtempSync(join(tmpdir(), 'vigil-screenshots-'));

/**
 * Emulates the tab being hidden or shown: Chromium headless never hides a page by itself, so
 * document.visibilityState is overridden and visibilitychange dispatched, as a real hide would.
 */
export async function setPageVisibility(page: Page, state: 'hidden' | 'visible'): Promise<void> {
  await page.evaluate((s) => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => s });
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => s === 'hidden' });
    document.dispatchEvent(new Event('visibilitychange'));
  }, state);
}

/** Polls `pred` until it is true (server-side conditions the page cannot see). */
export async function until(pred: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
