import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Vigil } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';
import { StartupError } from '../../src/util/startup-errors.js';

// Start-up problems with what the config names: one line naming the key and the path, no stack
// trace, a non-zero exit. Real failures each time: a file where the folder should be, a corrupt
// database, a database on a full disk (/dev/full answers every write with ENOSPC), a read-only
// database and folder (as an unprivileged user when the tests run as root, who may write anyway).

const CLI = join(process.cwd(), 'dist', 'cli.js');
const asUnprivileged = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};

/** Runs the built CLI (as an unprivileged user when the tests run as root). */
function cli(args: string[], cwd?: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...asUnprivileged,
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    child.on('exit', (code) => resolve({ code, out }));
  });
}

/** A world-writable scratch folder (the unprivileged CLI writes its config's data there). */
function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-start-'));
  chmodSync(dir, 0o777);
  return dir;
}

function configFile(dir: string, lines: string[]): string {
  const file = join(dir, 'vigil.yaml');
  writeFileSync(
    file,
    [
      ...lines,
      'streams:',
      '  - {id: cam, lavfi: "testsrc2=size=320x180:rate=5", width: 320, height: 180}',
    ].join('\n'),
  );
  chmodSync(file, 0o644);
  return file;
}

const config = (dataDir: string, pipeline = 'recognize') =>
  validateConfig({
    server: { host: '127.0.0.1', port: 0 },
    log: { level: 'silent' },
    pipeline,
    dataDir,
    inference: { backend: 'wasm' },
    streams: [{ id: 'cam', lavfi: 'testsrc2=size=320x180:rate=5', width: 320, height: 180, detectFps: 1 }],
  });

async function startError(dataDir: string, pipeline?: string): Promise<StartupError> {
  const e = await Vigil.start(config(dataDir, pipeline)).then(
    async (v) => {
      await v.stop();
      throw new Error('Vigil started');
    },
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(StartupError);
  expect((e as StartupError).key).toBe('dataDir');
  return e as StartupError;
}

describe('start-up errors name dataDir and the path', () => {
  it('dataDir that is a file', async () => {
    const dir = scratch();
    const file = join(dir, 'data');
    writeFileSync(file, 'not a folder');
    const e = await startError(file, 'detect');
    expect(e.message).toBe(
      `dataDir ${file} is a file, not a folder: set dataDir to a folder Vigil may write`,
    );
  });

  it('a corrupt database: refused, and left as it was', async () => {
    const dir = scratch();
    const junk = Buffer.from('this is not an SQLite database '.repeat(200));
    writeFileSync(join(dir, 'vigil.db'), junk);
    const e = await startError(dir);
    expect(e.message).toMatch(
      new RegExp(`^dataDir ${dir}: ${join(dir, 'vigil.db')} is not a valid SQLite database \\(SQLITE_NOTADB`),
    );
    expect(e.message).toContain('move it away to start with an empty gallery');
    expect(readFileSync(join(dir, 'vigil.db')).equals(junk)).toBe(true);
  });

  it('a full disk (SQLITE_FULL)', async () => {
    const dir = scratch();
    symlinkSync('/dev/full', join(dir, 'vigil.db'));
    const e = await startError(dir);
    expect(e.code).toBe('SQLITE_FULL');
    expect(e.message).toMatch(
      new RegExp(`^dataDir ${dir}: the disk holding ${join(dir, 'vigil.db')} is full`),
    );
  });

  it('vigil run: a read-only database, a read-only dataDir, a corrupt database: one line, no stack trace, exit 2', async () => {
    const cases: Array<[string, (dir: string) => void, RegExp]> = [
      [
        'read-only database',
        (dir) => {
          const data = join(dir, 'data');
          mkdirSync(data);
          chmodSync(data, 0o777); // writable folder (umask aside), read-only file
          writeFileSync(join(data, 'vigil.db'), '');
          chmodSync(join(data, 'vigil.db'), 0o444);
        },
        /^vigil: dataDir "data" \(.*\/data\): the database .*\/data\/vigil.db is read-only \(SQLITE_READONLY/,
      ],
      [
        'read-only dataDir',
        (dir) => mkdirSync(join(dir, 'data'), { mode: 0o555 }),
        /^vigil: dataDir "data" \(.*\/data\) is not writable \(EACCES\): give Vigil's user write access/,
      ],
      [
        'corrupt database',
        (dir) => {
          mkdirSync(join(dir, 'data'));
          chmodSync(join(dir, 'data'), 0o777);
          writeFileSync(join(dir, 'data', 'vigil.db'), 'garbage '.repeat(100), { mode: 0o666 });
          chmodSync(join(dir, 'data', 'vigil.db'), 0o666);
        },
        /^vigil: dataDir "data" \(.*\/data\): .*vigil.db is not a valid SQLite database \(SQLITE_NOTADB/,
      ],
    ];
    // Each case has its own folder: the three processes run at once.
    const runs = cases.map(async ([what, prepare, expected]) => {
      const dir = scratch();
      prepare(dir);
      // dataDir is relative to the working directory: the message gives both.
      const file = configFile(dir, ['pipeline: recognize', 'dataDir: data', 'inference: {backend: wasm}']);
      return { what, expected, r: await cli(['run', '--config', file, '--port', '0'], dir) };
    });
    for (const { what, expected, r } of await Promise.all(runs)) {
      // not pino's JSON lines on stdout, nor ONNX Runtime's note that user nobody keeps no telemetry id
      const stderr = r.out.split('\n').filter((l) => l && !l.startsWith('{') && !l.includes('W:onnxruntime'));
      expect(r.code, `${what}: ${r.out}`).toBe(2);
      expect(stderr, `${what}: ${r.out}`).toHaveLength(1);
      expect(stderr[0], `${what}: ${stderr[0]}`).toMatch(expected);
      expect(r.out, what).not.toMatch(/^\s+at /m);
    }
  }, 120_000);

  it('vigil check refuses a pipeline that does not exist and unknown inference.models names', async () => {
    const dir = scratch();
    const bad = configFile(dir, [
      'pipeline: nosuchpipeline',
      'inference: {models: {faceres: {engine: tfjs}, nosuchmodel: {engine: onnx}}}',
    ]);
    const r = await cli(['check', bad]);
    expect(r.code).toBe(2);
    expect(r.out).toContain(`invalid configuration in ${bad}`);
    expect(r.out).toMatch(/- pipeline: no definition "nosuchpipeline" \(.*available: .*recognize/);
    expect(r.out).toMatch(
      /- inference\.models\.nosuchmodel: no model "nosuchmodel" \(known: .*faceres.*style\)/,
    );
    expect(r.out).not.toContain('inference.models.faceres');
    const good = join(dir, 'good.yaml');
    writeFileSync(
      good,
      readFileSync(bad, 'utf8')
        .replace('nosuchpipeline', 'recognize')
        .replace(', nosuchmodel: {engine: onnx}', ''),
    );
    chmodSync(good, 0o644);
    const ok = await cli(['check', good]);
    expect(ok.out).toContain('OK');
    expect(ok.code).toBe(0);
  });
});
