/**
 * Style training started from the page: one job at a time, in a worker thread at the lowest priority
 * (train-worker.ts), paused while the live pipeline needs the CPU (`busy()`: the inference pool
 * saturated, or the event loop lagging), resumed when it is quiet again. The uploaded painting is
 * checked first (a readable image, short side >= 64 px, <= 40 megapixels); the style is written under
 * the data directory's styles/ and announced (`onEvent`) so every camera's picker lists it.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import sharp from 'sharp';
import type { StyleTrainingJob } from '../defs/ws.js';
import { decodeImage, ImageError } from '../util/image.js';
import { packageRoot } from '../util/packages.js';
import { PROJECT_ROOT } from '../util/paths.js';
import { MAX_STYLE_PIXELS, MIN_STYLE_SIDE } from './data.js';
import { STYLE_NAME } from './store.js';
import { CONTROL, type TrainWorkerData, type TrainWorkerMessage } from './train-protocol.js';

export interface TrainRequest {
  name: string;
  painting: Buffer;
  steps: number;
  arch: 'tiny' | 'small';
  /** Crop side (multiple of 4). */
  size: number;
  previewEvery: number;
}

export type TrainingEvent =
  | { type: 'job'; job: StyleTrainingJob }
  | { type: 'style'; name: string; dir: string };

export interface TrainingJobsOptions {
  /** Where trained styles go (<dataDir>/styles). */
  root: string;
  /** Content images the styles learn on. */
  content: string[];
  /** Names taken (shipped and trained styles). */
  taken: (name: string) => boolean;
  /** True while the live pipeline needs the CPU: the job pauses. */
  busy?: () => boolean;
  onEvent: (e: TrainingEvent) => void;
  log?: (m: string) => void;
}

/** Content of trainings from the page: the photos that ship with face-api (always installed). */
export function defaultTrainContent(): string[] {
  return [join(packageRoot('@vladmandic/face-api'), 'demo')];
}

/** Refuses what cannot be a painting: not an image, too small, too large (an ImageError, 422). */
export async function checkPainting(b: Buffer): Promise<{ width: number; height: number; ext: string }> {
  await decodeImage(b, { maxPixels: MAX_STYLE_PIXELS, maxSide: 64 });
  const meta = await sharp(b).metadata();
  const w = meta.width ?? 0;
  const h = meta.height ?? 0;
  if (Math.min(w, h) < MIN_STYLE_SIDE)
    throw new ImageError(
      `painting too small (${w}x${h}): the short side must be at least ${MIN_STYLE_SIDE} px`,
    );
  return {
    width: w,
    height: h,
    ext: meta.format === 'png' ? 'png' : meta.format === 'webp' ? 'webp' : 'jpg',
  };
}

/** A fixed 128x72 preview frame: the first content photo, cropped to 16:9. */
async function previewImage(content: string[]) {
  const dir = content[0] as string;
  const file = existsSync(join(dir, 'sample1.jpg')) ? join(dir, 'sample1.jpg') : dir;
  const { data, info } = await sharp(file)
    .resize(128, 72, { fit: 'cover' })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, pixels: new Uint8Array(data) };
}

export class StyleTrainingJobs {
  private job: StyleTrainingJob | undefined;
  private worker: Worker | undefined;
  private control: Int32Array | undefined;
  private nextId = 1;
  private readonly lag = monitorEventLoopDelay({ resolution: 20 });
  private watch: NodeJS.Timeout | undefined;

  constructor(private readonly o: TrainingJobsOptions) {}

  /** The running job, or the last one. */
  current(): StyleTrainingJob | undefined {
    return this.job;
  }

  async start(r: TrainRequest): Promise<StyleTrainingJob> {
    if (this.worker) throw new JobError(409, `style "${this.job?.name}" is being trained: cancel it or wait`);
    if (!STYLE_NAME.test(r.name))
      throw new JobError(
        400,
        `style name "${r.name}" must match ${STYLE_NAME} (lower-case letters, digits, - and _)`,
      );
    if (this.o.taken(r.name)) throw new JobError(409, `a style named "${r.name}" exists already`);
    const { ext } = await checkPainting(r.painting);
    const uploads = join(this.o.root, '.paintings');
    mkdirSync(uploads, { recursive: true });
    const style = join(uploads, `${r.name}.${ext}`);
    writeFileSync(style, r.painting);
    const job: StyleTrainingJob = {
      id: this.nextId++,
      name: r.name,
      state: 'running',
      step: 0,
      steps: r.steps,
    };
    this.job = job;
    const control = new SharedArrayBuffer(4);
    this.control = new Int32Array(control);
    const data: TrainWorkerData = {
      options: {
        name: r.name,
        style,
        content: this.o.content,
        arch: r.arch,
        steps: r.steps,
        size: r.size,
        batch: 1,
        outRoot: this.o.root,
        painting: r.name,
        maxContentImages: 64,
      },
      preview: { every: r.previewEvery, image: await previewImage(this.o.content) },
      control,
    };
    const worker = new Worker(workerScript(), { workerData: data });
    this.worker = worker;
    worker.on('message', (m: TrainWorkerMessage) => this.onMessage(job, m));
    worker.on('error', (e) => this.finish(job, 'failed', e.message));
    worker.on('exit', () => {
      if (job.state === 'running' || job.state === 'paused')
        this.finish(job, 'failed', 'the training worker stopped');
    });
    this.watchLoad();
    this.emit();
    return job;
  }

  /** Stops the job `id` (nothing is written); false when it is not running. */
  cancel(id: number): boolean {
    if (!this.job || this.job.id !== id || !this.worker || !this.control) return false;
    Atomics.store(this.control, 0, CONTROL.CANCEL);
    return true;
  }

  private onMessage(job: StyleTrainingJob, m: TrainWorkerMessage): void {
    if (m.type === 'progress') {
      job.step = m.step;
      job.loss = m.loss;
      job.state = m.paused ? 'paused' : 'running';
      job.message = m.paused ? 'paused: the cameras need the CPU' : undefined;
    } else if (m.type === 'preview') {
      job.previewStep = m.step;
      job.preview = `data:image/jpeg;base64,${Buffer.from(m.jpeg).toString('base64')}`;
    } else if (m.type === 'log') {
      this.o.log?.(`style training ${job.name}: ${m.message}`);
      return;
    } else if (m.type === 'done') {
      job.step = job.steps;
      this.finish(job, 'done', `trained in ${m.seconds.toFixed(0)} s`);
      this.o.onEvent({ type: 'style', name: job.name, dir: m.dir });
      return;
    } else if (m.type === 'cancelled') {
      rmSync(join(this.o.root, job.name), { recursive: true, force: true });
      this.finish(job, 'cancelled', 'cancelled; nothing was saved');
      return;
    } else {
      this.finish(job, 'failed', m.message);
      return;
    }
    this.emit();
  }

  private finish(job: StyleTrainingJob, state: StyleTrainingJob['state'], message: string): void {
    if (job.state === 'done' || job.state === 'failed' || job.state === 'cancelled') return;
    job.state = state;
    job.message = message;
    if (this.watch) clearInterval(this.watch);
    this.watch = undefined;
    this.lag.disable();
    const w = this.worker;
    this.worker = undefined;
    this.control = undefined;
    void w?.terminate();
    this.emit();
  }

  /** Pauses the worker while the pipeline is busy (or the event loop lags > 50 ms), resumes after 1 s quiet. */
  private watchLoad(): void {
    this.lag.reset();
    this.lag.enable();
    let quietSince = Date.now();
    this.watch = setInterval(() => {
      const lagMs = this.lag.percentile(90) / 1e6;
      this.lag.reset();
      const busy = lagMs > 50 || (this.o.busy?.() ?? false);
      const c = this.control;
      if (!c || Atomics.load(c, 0) === CONTROL.CANCEL) return;
      if (busy) {
        quietSince = Date.now();
        Atomics.store(c, 0, CONTROL.PAUSE);
      } else if (Date.now() - quietSince > 1000) Atomics.store(c, 0, CONTROL.RUN);
    }, 250);
    this.watch.unref();
  }

  private emit(): void {
    if (this.job) this.o.onEvent({ type: 'job', job: { ...this.job } });
  }

  async close(): Promise<void> {
    if (this.control) Atomics.store(this.control, 0, CONTROL.CANCEL);
    if (this.watch) clearInterval(this.watch);
    await this.worker?.terminate();
    this.worker = undefined;
  }
}

/** A refusal of the job API with its HTTP status. */
export class JobError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function workerScript(): string {
  const here = new URL('./train-worker.js', import.meta.url);
  if (existsSync(here)) return here.pathname;
  const built = join(PROJECT_ROOT, 'dist', 'style', 'train-worker.js');
  if (existsSync(built)) return built;
  throw new Error(`style training worker not built: ${built} is missing (run npm run build)`);
}
