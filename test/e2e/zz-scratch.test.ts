import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'vitest';
import { Vigil } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';
import { launchBrowser } from '../../test/helpers/browser.js';

it('shots', async () => {
  const vigil = await Vigil.start(
    validateConfig({
      server: { host: '127.0.0.1', port: 0 },
      log: { level: 'silent' },
      dataDir: mkdtempSync(join(tmpdir(), 'v-')),
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
    }),
  );
  const b = await launchBrowser();
  const page = await b.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(`http://127.0.0.1:${vigil.address.port}/`);
  await page.waitForTimeout(5000);
  await page.screenshot({ path: '/tmp/scratch/wide.png' });
  console.log(
    await page.evaluate(() => {
      const r = (s: string) => {
        const e = document.querySelector(s) as HTMLElement;
        const b = e.getBoundingClientRect();
        return `${s}: ${b.width}x${b.height} display=${getComputedStyle(e).display}`;
      };
      return ['.tile', '.tile .info', '.tile .title', '.tile .badge', '.tile .stats', '.tile .view']
        .map(r)
        .join('\n');
    }),
  );
  await page.setViewportSize({ width: 640, height: 400 });
  await page.waitForTimeout(1000);
  await page.screenshot({ path: '/tmp/scratch/narrow.png' });
  console.log(
    await page.evaluate(() =>
      JSON.stringify((window as any).vigil.tiles().map((t: any) => [t.id, t.visible, t.subscribed])),
    ),
  );
  await b.close();
  await vigil.stop();
}, 60000);
