// The live page in a real Chromium against Vigil running the recognize pipeline on the real clip,
// served by the real GStreamer RTSP server, plus the embedded demo as a second camera: enrolling from
// the People view, names on the live overlay, the alerts panel (snapshots, paging, enrolling an
// unknown face in two clicks), a camera lost and found again. Saves the screenshots in docs/img/.
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Vigil } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';
import type { FaceAlert } from '../../src/faces/alerts.js';
import { browserUnavailable, launchBrowser, SCREENSHOT_DIR, until } from '../helpers/browser.js';
import { type RtspTestServer, rtspServerAvailable, startRtspServer } from '../helpers/rtsp-server.js';
import { skipUnless } from '../helpers/requirements.js';

const data = join(process.cwd(), '..', 'shared', 'data', 'video');
const clip = join(data, 'short_hamilton_clip.mp4');
const enrollDir = join(data, 'hamilton_enroll');
const photos = {
  lin_manuel_miranda: join(enrollDir, 'lin_manuel_miranda', 'lin-manuel-miranda.png'),
  obama: join(enrollDir, 'obama', 'obama.jpg'),
  alex_lacamoire: join(enrollDir, 'alex_lacamoire', 'alex-lacamoire.png'),
};
const why =
  browserUnavailable() ??
  (!existsSync(clip) || !Object.values(photos).every(existsSync)
    ? `${data} (short_hamilton_clip.mp4, hamilton_enroll/) not found`
    : await rtspServerAvailable());
const skip = skipUnless(why, 'viewer end-to-end tests over RTSP with recognition');

interface Snap {
  state: string;
  framesShown: number;
  header: { detections: Array<{ label?: string }> } | null;
}
type Hook = { vigil: { tile(id: string): Snap; alertIds(): number[] } };

describe.skipIf(skip)('the live page with recognition, over RTSP (real clip)', () => {
  let rtsp: RtspTestServer;
  let vigil: Vigil;
  let browser: Browser;
  let page: Page;
  let base: string;

  beforeAll(async () => {
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    [rtsp, browser] = await Promise.all([
      startRtspServer({ file: clip, loop: true, width: 640, height: 360, fps: 15 }),
      launchBrowser(),
    ]);
    vigil = await Vigil.start(
      validateConfig({
        server: { host: '127.0.0.1', port: 0 },
        log: { level: 'silent' },
        pipeline: 'recognize',
        dataDir: mkdtempSync(join(tmpdir(), 'vigil-viewer-rtsp-')),
        inference: { backend: 'wasm', workers: 1 },
        streams: [
          {
            id: 'stage',
            url: rtsp.url,
            width: 640,
            height: 360,
            detectFps: 5,
            displayFps: 10,
            socketTimeoutSeconds: 2,
            watchdogSeconds: 3,
            reconnect: { initialMs: 300, maxMs: 1000 },
          },
          { id: 'lobby', demo: true, width: 640, height: 360, detectFps: 2, displayFps: 10 },
        ],
      }),
    );
    base = `http://127.0.0.1:${vigil.address.port}`;
    page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    await page.goto(`${base}/?alertsPage=3#people`);
  });

  afterAll(async () => {
    await browser?.close();
    await vigil?.stop();
    await rtsp?.stop();
  });

  const enroll = async (name: string, file: string) => {
    await page.fill('#person-name', name);
    await page.setInputFiles('#person-photo', file);
    await page.click('#upload-photo');
    await expect
      .poll(() => page.locator('#add-msg').textContent(), { timeout: 15_000 })
      .not.toBe('Enrolling…');
  };

  it('enrolls a person from a photo in the People view; their name appears on the live overlay', async () => {
    await page.waitForSelector('#people-count:text("0 enrolled")', { timeout: 10_000 });
    await enroll('lin_manuel_miranda', photos.lin_manuel_miranda);
    expect(await page.locator('#add-msg').textContent()).toBe('Enrolled lin_manuel_miranda.');
    await page.waitForSelector('.person[data-name="lin_manuel_miranda"]');
    // the server's refusal is shown as it is
    await enroll('lin_manuel_miranda', photos.lin_manuel_miranda);
    expect(await page.locator('#add-msg.error').textContent()).toBe(
      'a person named "lin_manuel_miranda" already exists',
    );
    await enroll('obama', photos.obama);
    await enroll('alex_lacamoire', photos.alex_lacamoire);
    await page.waitForSelector('#people-count:text("3 enrolled")');
    const people = (await (await fetch(`${base}/api/people`)).json()) as Array<{ name: string }>;
    expect(people.map((p) => p.name)).toEqual(['alex_lacamoire', 'lin_manuel_miranda', 'obama']);

    await page.click('.tabs a[data-view="live"]');
    const named = () =>
      page.waitForFunction(
        () =>
          (window as unknown as Hook).vigil
            .tile('stage')
            .header?.detections.some((d) => d.label === 'lin_manuel_miranda'),
        null,
        { timeout: 30_000 },
      );
    // the README screenshot, taken while his name is on the overlay
    const onScreen = () =>
      page.evaluate(
        () =>
          document
            .querySelector('[data-stream="stage"]')
            ?.getAttribute('data-labels')
            ?.split('|')
            .includes('lin_manuel_miranda') ?? false,
      );
    for (let i = 0; i < 5; i++) {
      await named();
      await page.screenshot({ path: join(SCREENSHOT_DIR, 'viewer-grid.png') });
      if (await onScreen()) break;
    }
  });

  it('lists alerts newest first, as the server has them, with snapshots', async () => {
    await page.waitForFunction(
      () => {
        const imgs = [...document.querySelectorAll<HTMLImageElement>('#alerts .alert .snap img')];
        return imgs.length >= 4 && imgs.slice(0, 3).every((i) => i.complete && i.naturalWidth > 0);
      },
      null,
      { timeout: 30_000 },
    );
    // newest first, live and history alike, and as the server has them
    const ids = await page.evaluate(() =>
      [...document.querySelectorAll<HTMLElement>('#alerts .alert')].map((e) => Number(e.dataset.id)),
    );
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    const server = (await (await fetch(`${base}/api/alerts?limit=500`)).json()) as FaceAlert[];
    expect(server.map((a) => a.id)).toEqual(expect.arrayContaining(ids));
    expect(await page.locator('#alerts .alert').first().locator('.name').textContent()).toBe(
      server.find((a) => a.id === ids[0])?.sub_label,
    );

    // his alert: known (green), with his snapshot
    const known = page.locator('#alerts .alert.known:has(.name:text-is("lin_manuel_miranda"))').first();
    await known.waitFor({ timeout: 30_000 });
    await expect
      .poll(() => known.locator('img').evaluate((i: HTMLImageElement) => i.complete && i.naturalWidth > 0))
      .toBe(true);
  });

  it('enrolls an unknown face in two clicks; a refused name shows the server’s message', async () => {
    const known = page.locator('#alerts .alert.known:has(.name:text-is("lin_manuel_miranda"))').first();
    // an unknown face: Enroll -> name -> Save (the one listed after his, for the screenshot)
    const after = page.locator(
      '#alerts .alert.known:has(.name:text-is("lin_manuel_miranda")) ~ .alert.unknown:has(button.enroll)',
    );
    const candidate = (await after.count())
      ? after.first()
      : page.locator('#alerts .alert.unknown:has(button.enroll)').first();
    await candidate.waitFor({ timeout: 20_000 });
    await known.evaluate((e) => {
      const panel = document.getElementById('alerts') as HTMLElement;
      const head = panel.querySelector('.panel-head') as HTMLElement;
      panel.scrollTop +=
        e.getBoundingClientRect().top - panel.getBoundingClientRect().top - head.offsetHeight - 40;
    });
    const alertId = Number(await candidate.getAttribute('data-id'));
    const item = page.locator(`#alerts .alert[data-id="${alertId}"]`);
    await item.locator('button.enroll').click();
    await item.locator('input[name="name"]').fill('obama');
    await item.locator('button[type="submit"]').click();
    await expect
      .poll(() => item.locator('.msg.error').textContent(), { timeout: 10_000 })
      .toBe('a person named "obama" already exists');
    await item.locator('input[name="name"]').fill('guest at the door');
    // the panel down to its last alert on screen
    const clip = await page.evaluate(() => {
      const panel = (document.getElementById('alerts') as HTMLElement).getBoundingClientRect();
      const list = (document.querySelector('#alerts .alert-list') as HTMLElement).getBoundingClientRect();
      const bottom = Math.min(panel.bottom, list.bottom + 12);
      return { x: panel.x, y: panel.y, width: panel.width, height: Math.max(200, bottom - panel.y) };
    });
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'viewer-alerts.png'), clip });
    await item.locator('button[type="submit"]').click();
    await expect
      .poll(() => item.locator('.msg').textContent(), { timeout: 15_000 })
      .not.toMatch(/^(Enrolling…|a person named "obama" already exists)$/);
    const outcome = await item.locator('.msg').textContent();
    if (outcome?.startsWith('Enrolled as')) {
      expect(outcome).toBe('Enrolled as guest at the door');
      const people = (await (await fetch(`${base}/api/people`)).json()) as Array<{ name: string }>;
      expect(people.map((p) => p.name)).toContain('guest at the door');
    } else {
      // refused (e.g. no usable face in that snapshot): the page shows exactly what the server says
      const res = await fetch(
        `${base}/api/people/from-alert/${alertId}?name=${encodeURIComponent('guest at the door')}`,
        {
          method: 'POST',
        },
      );
      expect(res.status, `page said: ${outcome}`).toBeGreaterThanOrEqual(400);
      expect(outcome).toBe(((await res.json()) as { error: string }).error);
    }
  });

  it('a named alert card says Correct / Wrong / Ignore; the answer is stored and Undo removes it', async () => {
    const known = page.locator('#alerts .alert.known:has(.name:text-is("lin_manuel_miranda"))').first();
    await known.waitFor({ timeout: 20_000 });
    const alertId = Number(await known.getAttribute('data-id'));
    const entries = async () =>
      (await (await fetch(`${base}/api/feedback?alert=${alertId}`)).json()) as Array<{ verdict: string }>;
    expect(await entries()).toEqual([]);
    await known.locator('.feedback button', { hasText: 'Correct' }).click();
    await expect
      .poll(() => known.locator('.feedback-msg').textContent(), { timeout: 15_000 })
      .toMatch(/^Confirmed/);
    expect((await entries()).map((e) => e.verdict)).toEqual(['correct']);
    // a page loaded afterwards shows the answer (from GET /api/alerts), and Undo works from there
    const later = page;
    const was = page.url();
    try {
      await later.goto(`${base}/?alertsPage=100`);
      const card = later.locator(`#alerts .alert[data-id="${alertId}"]`);
      await card.waitFor({ timeout: 20_000 });
      await expect
        .poll(() => card.locator('.feedback-msg').textContent(), { timeout: 10_000 })
        .toMatch(/^Confirmed/);
      expect(await card.locator('.feedback').isVisible()).toBe(false);
      await card.locator('.feedback-msg button.undo').click();
      await expect.poll(entries, { timeout: 10_000 }).toEqual([]);
      expect(await card.locator('.feedback').isVisible()).toBe(true);
    } finally {
      await page.goto(was); // the page (and view) the other tests expect
    }
  });

  it('pages through the alert history (Load older)', async () => {
    // history: a fresh page load shows the newest 3 (?alertsPage=3), "Load older" the next 3; on a
    // loaded machine fewer alerts may exist yet, so wait until the history holds two pages
    await expect
      .poll(
        async () => ((await (await fetch(`${base}/api/alerts?limit=500`)).json()) as FaceAlert[]).length,
        {
          timeout: 60_000,
        },
      )
      .toBeGreaterThanOrEqual(6);
    await page.reload();
    await page.waitForFunction(() => document.querySelectorAll('#alerts .alert').length >= 3);
    const first = await page.evaluate(() => (window as unknown as Hook).vigil.alertIds());
    // the next 3 older than the oldest shown (live alerts may keep arriving at the top meanwhile)
    const older = (
      (await (await fetch(`${base}/api/alerts?limit=3&before=${Math.min(...first)}`)).json()) as FaceAlert[]
    ).map((a) => a.id);
    expect(older).toHaveLength(3);
    await page.click('#alerts button.more');
    await page.waitForFunction(
      (ids) => ids.every((id) => document.querySelector(`#alerts .alert[data-id="${id}"]`)),
      older,
    );
    const paged = await page.evaluate(() => (window as unknown as Hook).vigil.alertIds());
    expect(paged).toEqual(expect.arrayContaining([...first, ...older]));
    const shown = await page.evaluate(() =>
      [...document.querySelectorAll<HTMLElement>('#alerts .alert')].map((e) => Number(e.dataset.id)),
    );
    expect(shown).toEqual([...shown].sort((x, y) => y - x)); // on screen newest first
  });

  it('People view: takes the current face from a camera, renames, deletes (confirmed)', async () => {
    await page.click('.tabs a[data-view="people"]');
    await page.fill('#person-name', 'stage visitor');
    await page.selectOption('#person-camera', 'stage');
    let msg = '';
    for (let i = 0; i < 30 && !msg.startsWith('Enrolled'); i++) {
      await page.click('#take-face');
      await expect
        .poll(() => page.locator('#add-msg').textContent(), { timeout: 10_000 })
        .not.toBe('Enrolling…');
      msg = (await page.locator('#add-msg').textContent()) ?? '';
      if (!msg.startsWith('Enrolled')) {
        // the server's reason, e.g. 'no face on "stage" now' (an audience shot) or several faces
        expect(msg).toMatch(/face/);
        await page.waitForTimeout(250);
      }
    }
    expect(msg).toBe('Enrolled stage visitor.');
    const card = page.locator('.person[data-name="stage visitor"]');
    await card.waitFor();

    // rename: refused (the server's message), then accepted
    await card.locator('button.rename').click();
    await card.locator('.rename-form input').fill('obama');
    await card.locator('.rename-form button[type="submit"]').click();
    await expect
      .poll(() => card.locator('.msg.error').textContent())
      .toBe('a person named "obama" already exists');
    await card.locator('.rename-form input').fill('Stage regular');
    await card.locator('.rename-form button[type="submit"]').click();
    const renamed = page.locator('.person[data-name="Stage regular"]');
    await renamed.waitFor();

    await page.waitForFunction(() =>
      [...document.querySelectorAll<HTMLImageElement>('.person img.thumb')].every(
        (i) => i.complete && i.naturalWidth > 0,
      ),
    );
    await page.evaluate(() => document.querySelector('#people-view')?.scrollTo(0, 0));
    await page.screenshot({ path: join(SCREENSHOT_DIR, 'viewer-people.png') });

    // delete asks first; "Keep" keeps
    await renamed.locator('button.delete').click();
    await renamed.locator('.confirm button.ghost').click();
    await expect(renamed.locator('button.delete').isVisible()).resolves.toBe(true);
    await renamed.locator('button.delete').click();
    await renamed.locator('button.confirm-delete').click();
    await renamed.waitFor({ state: 'detached' });
    const people = (await (await fetch(`${base}/api/people`)).json()) as Array<{ name: string }>;
    expect(people.map((p) => p.name)).not.toContain('Stage regular');
    expect(people.map((p) => p.name)).toContain('lin_manuel_miranda');
  });

  it('shows a camera lost at the server as retrying with its error, and live again when it is back', async () => {
    await page.click('.tabs a[data-view="live"]');
    await page.waitForSelector('section.tile[data-stream="stage"][data-state="live"]');
    await rtsp.kill();
    const stage = page.locator('section.tile[data-stream="stage"]');
    await page.waitForSelector('section.tile[data-stream="stage"][data-state="retrying"]', {
      timeout: 15_000,
    });
    await expect.poll(() => stage.locator('.banner').textContent()).toMatch(/^Reconnecting \(attempt \d+/);
    // the banner shows the server's latest error (each reconnect attempt may fail differently)
    const lastError = () => vigil.context.sources.find((s) => s.id === 'stage')?.status.lastError;
    expect(lastError()).toBeTruthy();
    await expect
      .poll(async () => {
        const [text, error] = [await stage.locator('.banner').textContent(), lastError()];
        return Boolean(error && text?.includes(error));
      })
      .toBe(true);
    // the server is still down: the badge cycles between retrying and connecting (backoff 300 ms)
    expect(['retrying', 'connecting']).toContain(await stage.locator('.badge.state').textContent());
    expect(await page.getAttribute('section.tile[data-stream="lobby"]', 'data-state')).toBe('live');

    const shown = await page.evaluate(() => (window as unknown as Hook).vigil.tile('stage').framesShown);
    await rtsp.restart();
    await page.waitForSelector('section.tile[data-stream="stage"][data-state="live"]', { timeout: 20_000 });
    await page.waitForFunction(
      (n) => (window as unknown as Hook).vigil.tile('stage').framesShown > n + 5,
      shown,
      { timeout: 10_000 },
    );
    expect(await stage.locator('.banner').isHidden()).toBe(true);
    await until(() => vigil.context.hub.hasSubscribers('stage'), 1000, 'stage subscribed');
  });
});
