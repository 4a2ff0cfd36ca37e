import { dot, type Labeled, pairScores, rocAuc, tarAtFar } from '../metrics.js';
import { kFoldIdentities, type Sample } from './data.js';
import { DEFAULT_HEAD_RECIPE, type HeadRecipe } from './head.js';
import { projectItems, trainTriplet, transientHead } from './train.js';
import {
  DEFAULT_VERIFIER_RECIPE,
  type Verifier,
  type VerifierRecipe,
  trainVerifier,
  verifierLogit,
} from './verifier.js';

export const METHODS = ['raw', 'head', 'verifier'] as const;
export type Method = (typeof METHODS)[number];

export interface MethodFigures {
  /** One-shot rank-1 among the test identities (first image enrolled, the rest queried). */
  rank1: number;
  queries: number;
  tarAtFar1: number;
  tarAtFar01: number;
  auc: number;
  genuine: number;
  impostor: number;
  /**
   * The operating point a deployment would get: the threshold chosen at FAR 1% on the training
   * identities' pairs, applied to the test pairs (its actual FAR and TAR there).
   */
  op: { threshold: number; far: number; tar: number };
}

type Score = (a: Float32Array, b: Float32Array) => number;

/** Rank-1 of one-shot identification with any pair score (higher = more alike). */
export function oneShotRank1(items: Labeled[], score: Score): { rank1: number; queries: number } {
  const gallery = new Map<string, Float32Array>();
  for (const it of items) if (!gallery.has(it.identity)) gallery.set(it.identity, it.embedding);
  let q = 0;
  let ok = 0;
  for (const it of items) {
    if (gallery.get(it.identity) === it.embedding) continue;
    q++;
    let best = '';
    let bestS = Number.NEGATIVE_INFINITY;
    for (const [id, e] of gallery) {
      const s = score(it.embedding, e);
      if (s > bestS) {
        bestS = s;
        best = id;
      }
    }
    if (best === it.identity) ok++;
  }
  return { rank1: q ? ok / q : Number.NaN, queries: q };
}

/** Genuine and impostor scores of every pair of a set. */
export function scorePairs(items: Labeled[], score: Score): { genuine: number[]; impostor: number[] } {
  return pairScores(items, score);
}

/** Test figures of one method: test items (already in the method's space) and its score. */
export function figures(test: Labeled[], score: Score, threshold: number): MethodFigures {
  const { genuine, impostor } = scorePairs(test, score);
  const r = oneShotRank1(test, score);
  return {
    rank1: r.rank1,
    queries: r.queries,
    tarAtFar1: tarAtFar(genuine, impostor, 0.01).tar,
    tarAtFar01: tarAtFar(genuine, impostor, 0.001).tar,
    auc: rocAuc(genuine, impostor),
    genuine: genuine.length,
    impostor: impostor.length,
    op: {
      threshold,
      far: impostor.length ? impostor.filter((s) => s >= threshold).length / impostor.length : Number.NaN,
      tar: genuine.length ? genuine.filter((s) => s >= threshold).length / genuine.length : Number.NaN,
    },
  };
}

export interface SplitResult {
  trainIdentities: string[];
  testIdentities: string[];
  /** Per test set (pairs and rank-1 within the set), per method. */
  bySet: Record<string, Record<Method, MethodFigures>>;
}

export interface LearnEvalOptions {
  head?: Partial<HeadRecipe>;
  verifier?: Partial<VerifierRecipe>;
  progress?: (msg: string) => void;
}

const ids = (s: Sample[]) => [...new Set(s.map((x) => x.identity))].sort();

/**
 * Trains a head and a verifier on `train` only and scores raw / head / verifier on `test`, whose
 * identities must all be absent from `train` (checked). Thresholds come from training pairs only.
 */
export async function evaluateSplit(
  train: Sample[],
  test: Sample[],
  opts: LearnEvalOptions = {},
): Promise<SplitResult> {
  const trainIds = ids(train);
  const testIds = ids(test);
  const overlap = testIds.filter((i) => trainIds.includes(i));
  if (overlap.length) throw new Error(`learn eval: identities on both sides: ${overlap.join(', ')}`);
  const recipe: HeadRecipe = { ...DEFAULT_HEAD_RECIPE, ...opts.head };
  let last = 0;
  const t = await trainTriplet(train, {
    recipe,
    progress: (s) => {
      if (s.epoch === s.epochs || performance.now() - last > 3000) {
        last = performance.now();
        opts.progress?.(
          `  head epoch ${s.epoch}/${s.epochs} loss ${s.loss.toFixed(3)} (${s.triplets} triplets, ${(100 * s.semiHard).toFixed(0)}% semi-hard)`,
        );
      }
    },
  });
  const head = transientHead(t.params, recipe, t.inDim, t.outDim);
  const v = await trainVerifier(train, { recipe: { ...DEFAULT_VERIFIER_RECIPE, ...opts.verifier } });
  opts.progress?.(`  verifier loss ${v.history.at(-1)?.loss.toFixed(4)}`);
  const verifier: Verifier = v.verifier;
  const vscore: Score = (a, b) => verifierLogit(verifier, a, b);

  const trainHead = projectItems(head, train);
  const thr = (items: Labeled[], score: Score) => {
    const p = scorePairs(items, score);
    return tarAtFar(p.genuine, p.impostor, 0.01).threshold;
  };
  const thrRaw = thr(train, dot);
  const thrHead = thr(trainHead, dot);
  const thrVer = verifier.manifest.threshold.logit;

  const bySet: SplitResult['bySet'] = {};
  for (const set of [...new Set(test.map((s) => s.set))]) {
    const items = test.filter((s) => s.set === set);
    if (new Set(items.map((i) => i.identity)).size < 2) continue; // no impostor pairs
    bySet[set] = {
      raw: figures(items, dot, thrRaw),
      head: figures(projectItems(head, items), dot, thrHead),
      verifier: figures(items, vscore, thrVer),
    };
  }
  return { trainIdentities: trainIds, testIdentities: testIds, bySet };
}

export interface Summary {
  set: string;
  method: Method;
  /** Splits (folds x repeats) the mean is over. */
  splits: number;
  rank1: number;
  tarAtFar1: number;
  tarAtFar01: number;
  auc: number;
  opFar: number;
  opTar: number;
  /** Mean pairs per split. */
  genuine: number;
  impostor: number;
  /** Splits where this method's TAR@FAR 1% is above / below / equal to the raw embedding's. */
  vsRaw: { better: number; worse: number; same: number };
}

/** Means over splits, per test set and method. */
export function summarize(results: SplitResult[]): Summary[] {
  const out: Summary[] = [];
  const sets = [...new Set(results.flatMap((r) => Object.keys(r.bySet)))].sort();
  for (const set of sets)
    for (const method of METHODS) {
      const f = results.map((r) => r.bySet[set]?.[method]).filter((x): x is MethodFigures => Boolean(x));
      const vsRaw = { better: 0, worse: 0, same: 0 };
      for (const r of results) {
        const m = r.bySet[set]?.[method];
        const raw = r.bySet[set]?.raw;
        if (!m || !raw) continue;
        const d = m.tarAtFar1 - raw.tarAtFar1;
        if (Math.abs(d) < 1e-9) vsRaw.same++;
        else if (d > 0) vsRaw.better++;
        else vsRaw.worse++;
      }
      const mean = (g: (m: MethodFigures) => number) => {
        const v = f.map(g).filter((x) => Number.isFinite(x));
        return v.length ? v.reduce((a, b) => a + b, 0) / v.length : Number.NaN;
      };
      out.push({
        set,
        method,
        splits: f.length,
        rank1: mean((m) => m.rank1),
        tarAtFar1: mean((m) => m.tarAtFar1),
        tarAtFar01: mean((m) => m.tarAtFar01),
        auc: mean((m) => m.auc),
        opFar: mean((m) => m.op.far),
        opTar: mean((m) => m.op.tar),
        genuine: mean((m) => m.genuine),
        impostor: mean((m) => m.impostor),
        vsRaw,
      });
    }
  return out;
}

/**
 * k-fold cross-validation over identities (stratified by set), repeated with different shuffles:
 * every identity is tested exactly once per repeat, by a head and verifier that never saw it.
 */
export async function crossValidate(
  samples: Sample[],
  opts: LearnEvalOptions & { folds: number; repeats?: number; seed?: number },
): Promise<{ splits: SplitResult[]; summary: Summary[] }> {
  const splits: SplitResult[] = [];
  const repeats = opts.repeats ?? 1;
  for (let r = 0; r < repeats; r++) {
    const folds = kFoldIdentities(samples, opts.folds, (opts.seed ?? 1) + r * 1000);
    for (const [i, f] of folds.entries()) {
      opts.progress?.(
        `repeat ${r + 1}/${repeats}, fold ${i + 1}/${folds.length}: train ${ids(f.train).length} identities (${f.train.length} images), test ${ids(f.test).length} (${f.test.length})`,
      );
      splits.push(await evaluateSplit(f.train, f.test, opts));
    }
  }
  return { splits, summary: summarize(splits) };
}

/** A Markdown table of a summary. */
export function summaryTable(summary: Summary[]): string {
  const head =
    '| test set | method | splits | rank-1 | TAR@FAR 1% | splits +/-/= vs raw | TAR@FAR 0.1% | ROC AUC | FAR / TAR at the training threshold | pairs (gen/imp) |';
  const sep = '|---|---|---|---|---|---|---|---|---|---|';
  const f = (x: number, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  const rows = summary.map(
    (s) =>
      `| ${s.set} | ${s.method} | ${s.splits} | ${f(s.rank1)} | ${f(s.tarAtFar1)} | ${s.method === 'raw' ? '' : `${s.vsRaw.better}/${s.vsRaw.worse}/${s.vsRaw.same}`} | ${f(s.tarAtFar01)} | ${f(s.auc, 4)} | ${f(s.opFar)} / ${f(s.opTar)} | ${Math.round(s.genuine)}/${Math.round(s.impostor)} |`,
  );
  return [head, sep, ...rows].join('\n');
}
