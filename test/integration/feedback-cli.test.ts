/**
 * `vigil feedback` (dist/cli.js, real models, real SQLite): "wrong" on an alert changes what
 * `vigil identify` says of that face, `list` shows the entry, `undo` restores the earlier decision,
 * and a missing alert or entry exits 2 naming it with nothing stored changed.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertStore } from '../../src/faces/alerts.js';
import { facePhotosMissing, photo, photoPath } from '../helpers/faces.js';
import { skipUnless } from '../helpers/requirements.js';

const CLI = join(process.cwd(), 'dist', 'cli.js');
const missing = facePhotosMissing() ?? (existsSync(CLI) ? undefined : `${CLI} is not built (npm run build)`);

const vigil = (...args: string[]) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });

describe.skipIf(skipUnless(missing, 'feedback CLI'))('vigil feedback (dist/cli.js)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-cli-feedback-'));
  const config = join(dir, 'vigil.yaml');
  const c = ['--config', config];
  let alertId = 0;
  beforeAll(async () => {
    writeFileSync(
      config,
      `log: {level: silent}\npipeline: recognize\ndataDir: ${JSON.stringify(join(dir, 'data'))}\nstreams:\n  - {id: cam, lavfi: "testsrc2"}\n`,
    );
    const e = await vigil('enroll', '--name', 'Barack Obama', photoPath('obama', 'obama.jpg'), ...c);
    expect(e.code, e.stderr).toBe(0);
    const db = new Database(join(dir, 'data', 'vigil.db'));
    const person = (db.prepare('SELECT id FROM people').get() as { id: number }).id;
    const a = new AlertStore(db).add(
      { camera: 'cam', sub_label: 'Barack Obama', person_id: person, score: 0.7, track_id: 1, start_time: 1 },
      photo('obama', 'obama2.jpg'),
    );
    alertId = a.id;
    db.close();
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const identify = async () => {
    const r = await vigil('identify', photoPath('obama', 'obama2.jpg'), ...c);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout.trim();
  };

  it('wrong, list, undo: the decision changes and comes back; bad ids exit 2 naming them', async () => {
    expect(await identify()).toMatch(/^Barack Obama\s/);
    const w = await vigil('feedback', 'wrong', String(alertId), ...c);
    expect(w.code, w.stderr).toBe(0);
    const fid = Number(/undo with: vigil feedback undo (\d+)/.exec(w.stdout)?.[1]);
    expect(fid).toBeGreaterThan(0);
    // Readers of the state after "wrong", then the two refused commands: each pair at once.
    const [after, list] = await Promise.all([identify(), vigil('feedback', 'list', '--json', ...c)]);
    expect(after).toMatch(/^unknown/);
    expect(JSON.parse(list.stdout)).toMatchObject([{ id: fid, verdict: 'wrong', alertId }]);
    const [noAlert, noEntry] = await Promise.all([
      vigil('feedback', 'wrong', '4242', ...c),
      vigil('feedback', 'undo', '999', ...c),
    ]);
    expect(noAlert.code).toBe(2);
    expect(noAlert.stderr).toMatch(/no alert with id 4242/);
    expect(noEntry.code).toBe(2);
    expect(noEntry.stderr).toMatch(/no feedback entry with id 999/);
    expect((await vigil('feedback', 'list', '--json', ...c)).stdout).toBe(list.stdout);
    const u = await vigil('feedback', 'undo', String(fid), ...c);
    expect(u.code, u.stderr).toBe(0);
    expect(await identify()).toMatch(/^Barack Obama\s/);
  }, 180_000);
});
