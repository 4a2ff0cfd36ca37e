// The demo gallery is never mixed into a user's own: real Vigil starts (real models, SQLite, ffmpeg)
// on one data directory, switching between the embedded default, the same with demoGallery: false,
// and a user's configuration without the demo source.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Vigil } from '../../src/app.js';
import { loadConfig, validateConfig } from '../../src/config/load.js';
import {
  DEMO_GALLERY_FILE,
  DEMO_PEOPLE,
  demoFaceCrop,
  enrollDemoPeople,
  faceDatabase,
} from '../../src/faces/demo-gallery.js';
import { PROJECT_ROOT } from '../../src/util/paths.js';

const demoNames = DEMO_PEOPLE.map((p) => p.name).sort();
const defaults = loadConfig(join(PROJECT_ROOT, 'config', 'default.yaml'));

/** config/default.yaml as `npm start` runs it, on `dataDir`, with `change` applied. */
const config = (dataDir: string, change: Record<string, unknown> = {}) =>
  validateConfig({
    ...defaults,
    server: { host: '127.0.0.1', port: 0 },
    log: { level: 'silent' },
    inference: { backend: 'wasm' },
    dataDir,
    ...change,
  });
/** A user's own configuration: their camera (a test pattern here), demoGallery left on as copied. */
const userConfig = (dataDir: string) =>
  config(dataDir, {
    streams: [{ id: 'door', lavfi: 'testsrc2=size=320x180:rate=5', width: 320, height: 180, detectFps: 2 }],
  });

const running: Vigil[] = [];
async function start(c: ReturnType<typeof config>): Promise<{ base: string; vigil: Vigil }> {
  const vigil = await Vigil.start(c);
  running.push(vigil);
  return { vigil, base: `http://127.0.0.1:${vigil.address.port}` };
}
const names = async (base: string) =>
  ((await (await fetch(`${base}/api/people`)).json()) as Array<{ name: string }>).map((p) => p.name).sort();
/** A face of the demo photos that is not a demo person (stands for a user's own photo). */
const ownPhoto = () => demoFaceCrop({ name: 'me', photo: 'sample2.jpg', box: [871, 254, 1074, 456] });

afterEach(async () => {
  while (running.length) await running.pop()?.stop();
});

describe('which gallery a configuration uses', () => {
  it('the demo gallery only with demoGallery on and every stream the demo source', () => {
    const dir = '/data';
    expect(faceDatabase(config(dir))).toEqual({ file: join(dir, DEMO_GALLERY_FILE), demo: true });
    expect(faceDatabase(config(dir, { demoGallery: false }))).toEqual({
      file: join(dir, 'vigil.db'),
      demo: false,
    });
    const user = faceDatabase(userConfig(dir));
    expect(user).toMatchObject({ file: join(dir, 'vigil.db'), demo: false });
    expect(user.ignored).toMatch(/streams door are not the embedded demo/);
    // a config that never mentions the key: off
    const { demoGallery: _, ...plain } = defaults;
    expect(validateConfig({ ...plain, dataDir: dir }).demoGallery).toBe(false);
  });

  it('refuses to enroll the demo people into any other gallery', async () => {
    const db = { file: '/data/vigil.db', demo: true };
    await expect(enrollDemoPeople(db, {} as never)).rejects.toThrow(/not the demo gallery/);
  });
});

describe('the demo gallery is kept apart from the user gallery', () => {
  it('demoGallery: false leaves the gallery empty and writes no demo database', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'vigil-demo-off-'));
    const { base } = await start(config(dataDir, { demoGallery: false }));
    expect(await names(base)).toEqual([]);
    expect(existsSync(join(dataDir, DEMO_GALLERY_FILE))).toBe(false);
  }, 60_000);

  it('enrolls the demo people once; a user config and its enrollments never see them', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'vigil-demo-apart-'));
    // first start of the default: the demo people
    let { base } = await start(config(dataDir));
    expect(await names(base)).toEqual(demoNames);
    await running.pop()?.stop();

    // the user's own cameras, same dataDir: an empty gallery; their first enrollment is alone
    ({ base } = await start(userConfig(dataDir)));
    expect(await names(base)).toEqual([]);
    const res = await fetch(`${base}/api/people?name=${encodeURIComponent('Sam')}`, {
      method: 'POST',
      headers: { 'content-type': 'image/jpeg' },
      body: await ownPhoto(),
    });
    expect(res.status, await res.clone().text()).toBe(201);
    expect(await names(base)).toEqual(['Sam']);
    await running.pop()?.stop();

    // demoGallery: false on the demo source: the user's gallery, still without demo people
    ({ base } = await start(config(dataDir, { demoGallery: false })));
    expect(await names(base)).toEqual(['Sam']);
    await running.pop()?.stop();

    // back on the default: the demo people only; one deleted stays deleted (enrolled at first start only)
    ({ base } = await start(config(dataDir)));
    expect(await names(base)).toEqual(demoNames);
    const people = (await (await fetch(`${base}/api/people`)).json()) as Array<{ id: number; name: string }>;
    const ava = people.find((p) => p.name === DEMO_PEOPLE[0]?.name);
    expect((await fetch(`${base}/api/people/${ava?.id}`, { method: 'DELETE' })).status).toBeLessThan(300);
    await running.pop()?.stop();
    ({ base } = await start(config(dataDir)));
    expect(await names(base)).toEqual(demoNames.filter((n) => n !== DEMO_PEOPLE[0]?.name));
  }, 180_000);
});
