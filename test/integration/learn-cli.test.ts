import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Gallery } from '../../src/faces/gallery/gallery.js';
import { embedSets, recognizeEmbedSettings, type Sample } from '../../src/faces/learn/data.js';
import { headSpace, loadHead } from '../../src/faces/learn/head.js';
import { loadVerifier } from '../../src/faces/learn/verifier.js';
import { UnknownStore } from '../../src/faces/unknowns/store.js';
import { DATA, recognizeSettings } from '../helpers/faces.js';
import { skipUnless } from '../helpers/requirements.js';

const FACES = join(DATA, 'faces');
const SETS = ['bbt_crops', 'dlib_johns_crops', 'facerec_photos'].map((s) => join(FACES, s));
const BUILT = join(process.cwd(), 'dist', 'cli-learn.js');
const missing = !SETS.every((s) => existsSync(s))
  ? `face sets not found under ${FACES} (../shared/data is absent)`
  : existsSync(BUILT)
    ? undefined
    : `${BUILT} is not built (npm run build)`;
const skip = skipUnless(missing, 'learn / unknowns CLI tests');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe.skipIf(skip)('vigil learn / eval learn / unknowns (built CLI, real embeddings)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-learn-cli-'));
  const config = join(dir, 'vigil.yaml');
  const runner = join(dir, 'vigil-learn.mjs');
  let samples: Sample[] = [];

  /** dist/cli.js when it has the learn commands wired in, else a runner around registerLearnCommands. */
  function vigil(...args: string[]): Promise<Run> {
    const cli = join(process.cwd(), 'dist', 'cli.js');
    const wired = existsSync(cli) && readFileSync(cli, 'utf8').includes('registerLearnCommands');
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        [wired ? cli : runner, ...args],
        { timeout: 120_000 },
        (err, stdout, stderr) => {
          const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
          resolve({ code, stdout: String(stdout), stderr: String(stderr) });
        },
      );
    });
  }

  beforeAll(async () => {
    const req = createRequire(join(process.cwd(), 'package.json'));
    writeFileSync(
      runner,
      [
        `import { Command } from ${JSON.stringify(pathToFileURL(req.resolve('commander')).href)};`,
        `const { registerLearnCommands } = await import(${JSON.stringify(pathToFileURL(BUILT).href)});`,
        "const program = new Command().name('vigil');",
        "program.command('eval');",
        'registerLearnCommands(program);',
        'await program.parseAsync();',
        '',
      ].join('\n'),
    );
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
    // warm the embedding cache (the commands below then start no model)
    samples = (await embedSets(SETS, recognizeEmbedSettings())).samples;
  }, 240_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('learn triplet: progress per epoch with held-out TAR, then a head with its recipe and figures', async () => {
    const out = join(dir, 'heads', 'bbt');
    const r = await vigil(
      'learn',
      'triplet',
      '--dir',
      SETS[0] as string,
      '--out',
      out,
      '--epochs',
      '6',
      '--val',
      '0.25',
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/\[learn\] training on 6 identities \(30 images\), validating on 2 \(10\)/);
    for (let e = 1; e <= 6; e++) expect(r.stderr).toMatch(new RegExp(`\\[learn\\] epoch ${e}/6 {2}loss \\d`));
    expect(r.stderr).toMatch(/epoch 6\/6 .* held-out TAR@FAR1% \d\.\d{3} AUC \d\.\d{4}/);
    expect(r.stdout).toMatch(/^head written to .*heads\/bbt \(linear, 1024 -> 1024\)$/m);
    expect(r.stdout).toMatch(/^held-out identities \(2\): TAR@FAR1% raw \d\.\d{3} -> head \d\.\d{3}/m);
    const m = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    expect(m).toMatchObject({
      format: 'vigil-head',
      name: 'bbt',
      base: { model: 'faceres', space: 'box-1.6', dim: 1024 },
      recipe: { kind: 'linear', alpha: 0.2, epochs: 6, lr: 0.001, seed: 1 },
      data: { dirs: [SETS[0]], trainImages: 30, valImages: 10 },
      inDim: 1024,
      outDim: 1024,
    });
    expect(m.validation.raw.tarAtFar1).toBeTypeOf('number');
    expect(m.validation.head.auc).toBeTypeOf('number');
    expect(m.threshold.similarity).toBeGreaterThan(0);
    expect(m.data.trainIdentities.filter((i: string) => m.data.valIdentities.includes(i))).toEqual([]);
    expect(statSync(join(out, 'weights.bin')).size).toBe(4 * (1024 * 1024 + 1024));
    const head = loadHead(out);
    expect(headSpace(head)).toMatch(/^box-1\.6\+bbt@[0-9a-f]{8}$/);
  });

  it('learn verifier: a verifier with its probability threshold (FAR 1% on training pairs)', async () => {
    const out = join(dir, 'heads', 'bbt-verifier');
    const r = await vigil('learn', 'verifier', '--dir', SETS[0] as string, '--out', out, '--epochs', '10');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/\[learn\] verifier epoch 10\/10 {2}log-loss \d/);
    expect(r.stdout).toMatch(
      /^verifier written to .*bbt-verifier: threshold p >= \S+ \(FAR 0\.0\d\d \/ TAR \d\.\d{3} on training pairs\)$/m,
    );
    const v = loadVerifier(out);
    expect(v.manifest).toMatchObject({
      format: 'vigil-verifier',
      featureDim: 2049,
      features: 'absdiff+sqdiff+cos',
    });
    expect(v.manifest.threshold.far).toBeLessThanOrEqual(0.01);
  });

  it('learn eval (k-fold) and eval learn (cross-set): figures on test identities only, JSON with the splits', async () => {
    const json = join(dir, 'eval.json');
    // Three independent runs (only the first writes a file): all at once.
    const [r, x, bad] = await Promise.all([
      vigil(
        'learn',
        'eval',
        '--dir',
        ...SETS,
        '--folds',
        '2',
        '--epochs',
        '4',
        '--v-epochs',
        '4',
        '--json',
        json,
      ),
      vigil(
        'eval',
        'learn',
        '--train',
        SETS[0] as string,
        '--test',
        SETS[2] as string,
        '--epochs',
        '3',
        '--v-epochs',
        '3',
      ),
      vigil('learn', 'eval', '--train', SETS[0] as string),
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/\[learn eval\] repeat 1\/1, fold 2\/2: train \d+ identities/);
    const rows = r.stdout.split('\n').filter((l) => /^\| (bbt|dlib|facerec)/.test(l));
    expect(rows).toHaveLength(9);
    for (const method of ['raw', 'head', 'verifier'])
      expect(rows.some((l) => l.includes(`| ${method} |`))).toBe(true);
    const res = JSON.parse(readFileSync(json, 'utf8'));
    expect(res.splits).toHaveLength(2);
    for (const s of res.splits)
      expect(s.testIdentities.filter((i: string) => s.trainIdentities.includes(i))).toEqual([]);
    // every identity tested once
    expect(res.splits.flatMap((s: { testIdentities: string[] }) => s.testIdentities).sort()).toEqual(
      [...new Set(samples.map((s) => s.identity))].sort(),
    );
    expect(x.code, x.stderr).toBe(0);
    expect(x.stdout).toMatch(/train on bbt_crops, test on facerec_photos/);
    expect(x.stdout.split('\n').filter((l) => l.startsWith('| facerec_photos |'))).toHaveLength(3);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--train and --test go together/);
  });

  it('the NAP head (learn eval --init nap --epochs 0) trained on colour photos does not lower TAR on the grayscale set, nor the reverse', async () => {
    const json = join(dir, 'nap.json');
    const back = join(dir, 'nap-back.json');
    const common = ['--init', 'nap', '--nap-dims', '2', '--epochs', '0', '--v-epochs', '2'];
    // The two directions write their own files: both runs at once.
    const [r, c] = await Promise.all([
      vigil(
        'learn',
        'eval',
        '--train',
        SETS[1] as string,
        SETS[2] as string,
        '--test',
        SETS[0] as string,
        ...common,
        '--json',
        json,
      ),
      vigil(
        'learn',
        'eval',
        '--train',
        SETS[0] as string,
        '--test',
        SETS[1] as string,
        SETS[2] as string,
        ...common,
        '--json',
        back,
      ),
    ]);
    expect(r.code, r.stderr).toBe(0);
    const [split] = JSON.parse(readFileSync(json, 'utf8')).splits;
    const bbt = split.bySet.bbt_crops;
    console.log(
      `NAP head, colour -> bbt: TAR@FAR1% raw ${bbt.raw.tarAtFar1.toFixed(3)} head ${bbt.head.tarAtFar1.toFixed(3)}, AUC ${bbt.raw.auc.toFixed(4)} -> ${bbt.head.auc.toFixed(4)}`,
    );
    expect(bbt.head.tarAtFar1).toBeGreaterThanOrEqual(bbt.raw.tarAtFar1);
    expect(bbt.head.auc).toBeGreaterThanOrEqual(bbt.raw.auc);
    expect(bbt.head.rank1).toBe(bbt.raw.rank1);
    expect(c.code, c.stderr).toBe(0);
    for (const [set, f] of Object.entries(JSON.parse(readFileSync(back, 'utf8')).splits[0].bySet) as Array<
      [string, Record<'raw' | 'head', { tarAtFar1: number }>]
    >)
      expect(f.head.tarAtFar1, set).toBeGreaterThanOrEqual(f.raw.tarAtFar1);
  });

  it('unknowns: list, name, search, delete on the configured data directory', async () => {
    const { rec, space, threshold } = recognizeSettings();
    const g = new Gallery(join(dir, 'data', 'vigil.db'), { model: rec.model, version: space, dim: 1024 });
    const store = new UnknownStore(g.db, g.space, { threshold });
    const jpeg = readFileSync(join(FACES, 'dlib_johns_crops', 'John_Simm', readdirFirst('John_Simm')));
    const t = Date.now() - 60_000;
    const johns = samples.filter((s) => s.set === 'dlib_johns_crops');
    johns
      .filter((s) => /John_(Simm|Shimkus)$/.test(s.identity))
      .forEach((s, k) => {
        store.addSighting({
          camera: k % 2 ? 'door' : 'hall',
          trackId: k,
          time: t + k,
          embedding: s.embedding,
          snapshot: jpeg,
        });
      });
    g.close();
    // Readers of one state at once: the listing twice, then (after naming) the refused name and the searches.
    const [l, text] = await Promise.all([
      vigil('unknowns', '--json', '--config', config),
      vigil('unknowns', '--config', config),
    ]);
    expect(l.code, l.stderr).toBe(0);
    const clusters = JSON.parse(l.stdout) as Array<{ id: number; sightings: number; summary: string }>;
    expect(clusters).toHaveLength(2);
    expect(text.stdout).toMatch(
      /^\s+\d+ {2}this unnamed person was seen 11 times on cameras (door, hall|hall, door) \(11 track\(s\)/m,
    );
    const [a, b] = clusters as [{ id: number }, { id: number }];
    const n = await vigil(
      'unknowns',
      'name',
      String(a.id),
      '--name',
      'Mystery Guest',
      '--max-photos',
      '5',
      '--config',
      config,
    );
    expect(n.code, n.stderr).toBe(0);
    expect(n.stdout).toMatch(
      new RegExp(
        `^enrolled Mystery Guest \\(id \\d+\\) with 5 face\\(s\\) of 11 sighting\\(s\\); cluster ${a.id} removed$`,
        'm',
      ),
    );
    const [again, s, none] = await Promise.all([
      vigil('unknowns', 'name', String(a.id), '--name', 'X', '--config', config),
      vigil('unknowns', 'search', '--person', 'Mystery Guest', '--json', '--config', config),
      vigil('unknowns', 'search', '--person', 'Nobody', '--config', config),
    ]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/no unknown-face cluster with id/);
    expect(s.code, s.stderr).toBe(0);
    expect(JSON.parse(s.stdout)).toEqual([]); // the other cluster is someone else
    expect(none.code).toBe(2);
    const d = await vigil('unknowns', 'delete', String(b.id), '--config', config);
    expect(d.code, d.stderr).toBe(0);
    expect((await vigil('unknowns', '--config', config)).stdout).toMatch(/^no unknown faces stored$/m);
  });
});

function readdirFirst(person: string): string {
  return readdirSync(join(FACES, 'dlib_johns_crops', person)).sort()[0] as string;
}
