import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gallery, GalleryMatrix } from '../../src/faces/gallery/gallery.js';
import {
  facePhotosMissing,
  galleryState,
  noFacePng,
  openGallery,
  photoPath,
  recognizeSettings,
} from '../helpers/faces.js';
import { samplePhoto } from '../helpers/images.js';
import { skipUnless } from '../helpers/requirements.js';

const CLI = join(process.cwd(), 'dist', 'cli.js');
const missing = facePhotosMissing() ?? (existsSync(CLI) ? undefined : `${CLI} is not built (npm run build)`);
const skip = skipUnless(missing, 'faces CLI tests');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function vigil(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

describe.skipIf(skip)('vigil enroll / people / identify / verify (dist/cli.js, real models)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-cli-faces-'));
  const config = join(dir, 'vigil.yaml');
  const db = join(dir, 'data', 'vigil.db');
  const noFace = join(dir, 'blank.png');
  const { rec, space, threshold } = recognizeSettings();
  const c = ['--config', config];
  let watcher: Gallery | undefined;

  const people = async () => {
    const r = await vigil('people', '--json', ...c);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as Array<{ id: number; name: string; photos: number; embedded: number }>;
  };

  beforeAll(async () => {
    writeFileSync(
      config,
      [
        'log: {level: silent}',
        'pipeline: recognize',
        `dataDir: ${JSON.stringify(join(dir, 'data'))}`,
        'streams:',
        '  - {id: cam, lavfi: "testsrc2=size=320x180:rate=5", width: 320, height: 180}',
        '',
      ].join('\n'),
    );
    writeFileSync(noFace, await noFacePng());
  });

  afterAll(() => {
    watcher?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('enroll --name X photo, then people lists X', async () => {
    const e = await vigil('enroll', '--name', 'Barack Obama', photoPath('obama', 'obama.jpg'), ...c);
    expect(e.code, e.stderr).toBe(0);
    expect(e.stdout).toMatch(/^enrolled Barack Obama \(id \d+\) from 1 photo\(s\)$/m);
    // Two readers of the same database: independent processes, started together.
    const [p, json] = await Promise.all([vigil('people', ...c), people()]);
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout).toMatch(/^\s*\d+ {2}Barack Obama {2}\(1 photo\(s\), 1 embedded\)$/m);
    expect(json).toMatchObject([{ name: 'Barack Obama', photos: 1, embedded: 1 }]);
  });

  it('identify prints the enrolled person with a similarity above the threshold', async () => {
    const r = await vigil('identify', photoPath('obama', 'obama2.jpg'), ...c);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const m = /^(.+?)\s+similarity (\d\.\d{3})\s+box \d+,\d+,\d+,\d+/.exec(lines[0] as string);
    expect(m, r.stdout).not.toBeNull();
    expect(m?.[1]).toBe('Barack Obama');
    expect(Number(m?.[2])).toBeGreaterThanOrEqual(threshold);
  });

  it('identify of a group photo prints every face: unknown, with the nearest enrolled person', async () => {
    const r = await vigil('identify', samplePhoto(1), ...c);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.length).toBeGreaterThan(1);
    // Each face is compared with the gallery: the nearest enrolled person is named.
    for (const l of lines)
      expect(l).toMatch(/^unknown\s+similarity -?\d\.\d{3}\s+box [\d,]+ {2}\(nearest: Barack Obama\)$/);
  });

  it('verify a b prints "same person" / "different people"', async () => {
    // The two comparisons share nothing: both processes at once.
    const [same, diff] = await Promise.all([
      vigil('verify', photoPath('obama', 'obama1.jpg'), photoPath('obama', 'obama3.jpg'), ...c),
      vigil('verify', photoPath('obama', 'obama.jpg'), photoPath('biden', 'biden2.jpg'), ...c),
    ]);
    expect(same.code, same.stderr).toBe(0);
    const s = /^same person: similarity (\d\.\d{3}) \(threshold (\d\.\d{3})\)/.exec(same.stdout);
    expect(s, same.stdout).not.toBeNull();
    expect(Number(s?.[1])).toBeGreaterThanOrEqual(Number(s?.[2]));
    expect(Number(s?.[2])).toBeCloseTo(threshold, 3);
    expect(diff.code, diff.stderr).toBe(0);
    const d = /^different people: similarity (-?\d\.\d{3}) \(threshold (\d\.\d{3})\)/.exec(diff.stdout);
    expect(d, diff.stdout).not.toBeNull();
    expect(Number(d?.[1])).toBeLessThan(Number(d?.[2]));
  });

  it('bad enrollments exit 2 with a clear message and leave people (and the database) unchanged', async () => {
    const before = await people();
    const probe = new Database(db, { readonly: true });
    const dim = (probe.prepare('SELECT dim FROM embeddings LIMIT 1').get() as { dim: number }).dim;
    probe.close();
    expect(dim).toBeGreaterThan(100);
    watcher = openGallery(db, rec.model, space, dim);
    const stateBefore = galleryState(watcher.db);
    const runs: Array<[string[], RegExp]> = [
      [['--name', 'Nobody', noFace], /^vigil: image: no face found$/m],
      [
        ['--name', 'barack OBAMA', photoPath('obama', 'obama2.jpg')],
        /^vigil: a person named "barack OBAMA" already exists as "Barack Obama" \(id \d+\)$/m,
      ],
      [
        ['--name', 'Group', samplePhoto(1)],
        /^vigil: image: \d+ faces found; enrollment needs a photo of one person/m,
      ],
      [['--name', 'unknown', photoPath('biden', 'biden.jpg')], /^vigil: "unknown" is reserved/m],
      [['--name', 'Ghost', join(dir, 'no-such.jpg')], /^vigil: cannot read .*no-such\.jpg/m],
      [['--name', 'Pair', photoPath('biden', 'biden.jpg'), noFace], /^vigil: image 2: no face found$/m],
    ];
    // All at once: six processes open the same database while it is refused six times.
    const results = await Promise.all(runs.map(([args]) => vigil('enroll', ...args, ...c)));
    results.forEach((r, i) => {
      const [args, message] = runs[i] as [string[], RegExp];
      expect(r.code, `${args.join(' ')}: ${r.stdout}${r.stderr}`).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(message);
      expect(r.stdout).not.toMatch(/enrolled/);
    });
    expect(galleryState(watcher.db)).toEqual(stateBefore);
    expect(await people()).toEqual(before);
  });

  it('an enrollment by the CLI (another process) reaches a running gallery through onChange', async () => {
    const w = watcher as Gallery;
    const seen: Array<{ at: number; m: GalleryMatrix }> = [];
    w.onChange((m) => seen.push({ at: Date.now(), m }));
    const e = await vigil('enroll', '--name', 'Biden', photoPath('biden', 'biden.jpg'), ...c);
    const exitedAt = Date.now();
    expect(e.code, e.stderr).toBe(0);
    const id = Number(/\(id (\d+)\)/.exec(e.stdout)?.[1]);
    const end = Date.now() + 2500;
    while (!seen.some((s) => s.m.names.get(id) === 'Biden') && Date.now() < end)
      await new Promise((r) => setTimeout(r, 25));
    const hit = seen.find((s) => s.m.names.get(id) === 'Biden');
    expect(hit, 'change event for Biden').toBeDefined();
    expect((hit?.at ?? Number.POSITIVE_INFINITY) - exitedAt).toBeLessThan(2500);
    expect(w.list().map((p) => p.name)).toEqual(['Barack Obama', 'Biden']);
  });
});
