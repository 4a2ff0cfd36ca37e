/**
 * ONNX Runtime (onnxruntime-node) behind the inference contract. Models are Vigil's own conversions
 * of the tfjs graph models (see convert/index.ts), cached on disk; sessions run with every graph
 * optimisation, a configurable intra-op thread count and the configured execution providers
 * (CPU here; CUDA / TensorRT on GPU hosts that installed them).
 */
import { availableParallelism } from 'node:os';
import type * as Ort from 'onnxruntime-node';
import type {
  InferenceEngine,
  LoadedModel,
  ModelManifest,
  SimilarityMatrix,
  TensorData,
} from '../contract.js';
import { convertCached } from './cache.js';

export type ExecutionProvider = 'cpu' | 'cuda' | 'tensorrt';

export interface OnnxEngineOptions {
  /** Intra-op threads per session; 0 = the machine's cores divided by the worker count. */
  intraOpThreads: number;
  /** Tried in order; `cpu` is always appended as the last resort. */
  executionProviders: ExecutionProvider[];
  /** Where converted models are cached. */
  cacheDir: string;
  /** Worker threads sharing the machine (for the default thread count). */
  workers?: number;
}

/** The ORT engine, with what it loaded each model from. */
export interface OnnxEngine extends InferenceEngine {
  readonly version: string;
  readonly threads: number;
  /** Loads an ONNX model from bytes; `outputs` in the order `run` returns them. */
  loadBytes(name: string, bytes: Uint8Array, outputs: string[]): Promise<LoadedModel>;
  /** Details of the last `load`: conversion time and whether the cache was used. */
  lastLoad?: { ms: number; cached: boolean; path: string };
  /**
   * Waits for every session call in flight, then releases all sessions; later calls fail. A worker
   * must do this before it exits: a native call still running when its thread ends aborts the process.
   */
  close(): Promise<void>;
}

/** Intra-op threads: configured, else an even share of the cores per worker (at least 1). */
export function defaultThreads(configured: number, workers = 1, cores = availableParallelism()): number {
  if (configured > 0) return configured;
  return Math.max(1, Math.floor(cores / Math.max(1, workers)));
}

/** Loads onnxruntime-node (an error names the package when it is missing or broken). */
export async function loadOrt(): Promise<typeof Ort> {
  try {
    const mod = (await import('onnxruntime-node')) as typeof Ort & { default?: typeof Ort };
    return mod.InferenceSession ? mod : (mod.default as typeof Ort);
  } catch (e) {
    throw new Error(`onnxruntime-node is not usable: ${(e as Error).message}`);
  }
}

function sessionOptions(eps: string[], threads: number): Ort.InferenceSession.SessionOptions {
  return {
    executionProviders: eps,
    graphOptimizationLevel: 'all',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    // Idle intra-op threads sleep instead of spinning: on a 2-core machine shared with ffmpeg and JPEG
    // encoding, spinning tripled the CPU time of the same detector calls (1074 vs 307 ms for 20
    // calls 50 ms apart) and made them slower (34.6 vs 21.7 ms), measured here.
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
  };
}

/**
 * The engine's sessions and the native calls in flight on them: closing waits for those calls,
 * and a session is released only once no call runs on it (releasing under a running call is
 * undefined behaviour in ONNX Runtime).
 */
class Sessions {
  /** The provider sessions run on: the first configured, or cpu after a provider failed to load. */
  backend: string;
  private readonly all = new Set<Ort.InferenceSession>();
  private readonly inflight = new Set<Promise<unknown>>();
  private closed = false;

  constructor(
    private readonly ort: typeof Ort,
    private readonly providers: string[],
    private readonly threads: number,
  ) {
    this.backend = providers[0] as string;
  }

  /** Runs a native call, tracked so that close() can wait for it. */
  track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    const done = () => this.inflight.delete(p);
    p.then(done, done);
    return p;
  }

  guard(name: string): void {
    if (this.closed) throw new Error(`ONNX Runtime engine closed (model "${name}")`);
  }

  async create(bytes: Uint8Array, name: string): Promise<Ort.InferenceSession> {
    this.guard(name);
    const s = await this.track(this.createSession(bytes, name));
    if (this.closed) {
      await s.release().catch(() => {});
      this.guard(name);
    }
    this.all.add(s);
    return s;
  }

  private async createSession(bytes: Uint8Array, name: string): Promise<Ort.InferenceSession> {
    try {
      return await this.ort.InferenceSession.create(bytes, sessionOptions(this.providers, this.threads));
    } catch (e) {
      if (this.providers.length === 1)
        throw new Error(`ONNX Runtime could not load "${name}": ${(e as Error).message}`);
      // A GPU provider that is not installed or has no device: CPU, and the backend says so.
      this.backend = 'cpu';
      return await this.ort.InferenceSession.create(bytes, sessionOptions(['cpu'], this.threads));
    }
  }

  /** Forgets `session` and releases it after the calls in flight. */
  release(session: Ort.InferenceSession): void {
    if (!this.all.delete(session)) return;
    void Promise.allSettled([...this.inflight]).then(() => session.release().catch(() => {}));
  }

  async close(): Promise<void> {
    this.closed = true;
    while (this.inflight.size) await Promise.allSettled([...this.inflight]);
    const all = [...this.all];
    this.all.clear();
    await Promise.allSettled(all.map((s) => s.release()));
  }
}

/** A loaded model over one session: `outputs` checked against the session's, returned in order. */
function sessionModel(
  ort: typeof Ort,
  sessions: Sessions,
  session: Ort.InferenceSession,
  name: string,
  outputs: string[],
): LoadedModel {
  const input = session.inputNames[0] as string;
  for (const o of outputs)
    if (!session.outputNames.includes(o))
      throw new Error(`ONNX model "${name}" has no output "${o}" (it has ${session.outputNames.join(', ')})`);
  return {
    name,
    async run(x: TensorData): Promise<TensorData[]> {
      sessions.guard(name);
      const feeds = { [input]: new ort.Tensor('float32', x.data, x.shape) };
      const res = await sessions.track(session.run(feeds, outputs));
      return outputs.map((o) => {
        const t = res[o] as Ort.Tensor;
        return { data: t.data as Float32Array, shape: [...t.dims] };
      });
    },
    dispose: () => sessions.release(session),
  };
}

/** Starts the ONNX Runtime engine; fails if onnxruntime-node cannot load. */
export async function createOnnxEngine(opts: OnnxEngineOptions): Promise<OnnxEngine> {
  const ort = await loadOrt();
  const threads = defaultThreads(opts.intraOpThreads, opts.workers);
  const providers: ExecutionProvider[] = [...opts.executionProviders.filter((p) => p !== 'cpu'), 'cpu'];
  const sessions = new Sessions(ort, providers, threads);
  const engine: OnnxEngine = {
    engine: 'onnx',
    get backend() {
      return sessions.backend;
    },
    version: ort.env.versions.common ?? 'unknown',
    threads,
    memory: () => ({ tensors: 0, bytes: 0 }),
    matrix: (data, rows, dim) => jsMatrix(data, rows, dim),
    async loadBytes(name, bytes, outputs) {
      return sessionModel(ort, sessions, await sessions.create(bytes, name), name, outputs);
    },
    close: () => sessions.close(),
    async load(m: ModelManifest) {
      const c = convertCached(m, opts.cacheDir);
      engine.lastLoad = { ms: c.ms, cached: c.cached, path: c.path };
      return engine.loadBytes(m.name, c.bytes, m.outputs);
    },
  };
  return engine;
}

/** A gallery held in JS: one pass over the rows per query (used only if a worker has no tfjs). */
function jsMatrix(data: Float32Array, rows: number, dim: number): SimilarityMatrix {
  const g = Float32Array.from(data);
  return {
    rows,
    async topK(queries, n, k) {
      const kk = Math.min(k, rows);
      const indices = new Int32Array(n * kk);
      const values = new Float32Array(n * kk);
      const sims = new Float32Array(rows);
      for (let q = 0; q < n; q++) {
        for (let r = 0; r < rows; r++) {
          let s = 0;
          for (let j = 0; j < dim; j++) s += (queries[q * dim + j] as number) * (g[r * dim + j] as number);
          sims[r] = s;
        }
        const order = Array.from({ length: rows }, (_, i) => i).sort(
          (a, b) => (sims[b] as number) - (sims[a] as number),
        );
        for (let i = 0; i < kk; i++) {
          indices[q * kk + i] = order[i] as number;
          values[q * kk + i] = sims[order[i] as number] as number;
        }
      }
      return { indices, values };
    },
    dispose: () => {},
  };
}
