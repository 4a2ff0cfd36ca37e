// Style training jobs (src/style/training-jobs.ts) with the real worker thread (dist/style/train-worker.js)
// and real tfjs training of a tiny net: painting checks, progress and previews, pause while the
// pipeline is busy, cancel (nothing saved), and a finished style that loads.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import type { StyleTrainingJob } from '../../src/defs/ws.js';
import { loadStyleDir } from '../../src/style/store.js';
import {
  checkPainting,
  defaultTrainContent,
  StyleTrainingJobs,
  type TrainingEvent,
} from '../../src/style/training-jobs.js';
import { until } from '../helpers/browser.js';
import { bandsPainting } from '../helpers/styles.js';
import { crc32 } from 'node:zlib';

/** A valid PNG header claiming w x h with one tiny IDAT: its size is read without decoding pixels. */
function pngClaiming(w: number, h: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.alloc(16))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

describe('style training jobs (worker thread, tiny net)', () => {
  let jobs: StyleTrainingJobs | undefined;
  afterEach(async () => {
    await jobs?.close();
    jobs = undefined;
  });

  const make = (root: string, busy: () => boolean = () => false) => {
    const events: TrainingEvent[] = [];
    jobs = new StyleTrainingJobs({
      root,
      content: defaultTrainContent(),
      taken: (n) => n === 'starry-night',
      busy,
      onEvent: (e) => events.push(e),
    });
    return {
      jobs,
      events,
      last: () => [...events].reverse().find((e) => e.type === 'job')?.job as StyleTrainingJob,
    };
  };

  it('refuses what is not a painting, naming the problem', async () => {
    await expect(checkPainting(Buffer.from('this is not an image'))).rejects.toThrow(/not a readable image/);
    const small = await sharp({ create: { width: 40, height: 90, channels: 3, background: '#888' } })
      .png()
      .toBuffer();
    await expect(checkPainting(small)).rejects.toThrow(/too small \(40x90\)/);
    await expect(checkPainting(pngClaiming(9000, 6000))).rejects.toThrow(
      /too large: 9000x6000 is 54 megapixels/,
    );
    const { jobs: j } = make(mkdtempSync(join(tmpdir(), 'vigil-train-')));
    const painting = await bandsPainting();
    await expect(
      j.start({ name: 'Bad Name', painting, steps: 2, arch: 'tiny', size: 32, previewEvery: 1 }),
    ).rejects.toThrow(/must match/);
    await expect(
      j.start({ name: 'starry-night', painting, steps: 2, arch: 'tiny', size: 32, previewEvery: 1 }),
    ).rejects.toThrow(/exists already/);
  });

  it('trains in the worker with progress and previews, pauses while busy, and saves a style that loads', async () => {
    const root = mkdtempSync(join(tmpdir(), 'vigil-train-'));
    let busy = true;
    const { jobs: j, events, last } = make(root, () => busy);
    const job = await j.start({
      name: 'bands',
      painting: await bandsPainting(),
      steps: 6,
      arch: 'tiny',
      size: 32,
      previewEvery: 2,
    });
    expect(job.state).toBe('running');
    // busy from the start: the worker stops after its first step and says why
    await until(() => last()?.state === 'paused', 60_000, 'the job to pause');
    const pausedAt = last().step;
    expect(last().message).toMatch(/cameras need the CPU/);
    await new Promise((r) => setTimeout(r, 1500));
    expect(last().step).toBe(pausedAt);
    busy = false;
    await until(() => last()?.state === 'done', 60_000, 'the job to finish');
    const jobEvents = events.filter((e) => e.type === 'job').map((e) => e.job);
    expect(jobEvents.some((e) => e.state === 'running' && e.step > pausedAt)).toBe(true);
    expect(last().step).toBe(6);
    expect(last().preview).toMatch(/^data:image\/jpeg;base64,/);
    expect(last().previewStep).toBe(6);
    const styleEvent = events.find((e) => e.type === 'style');
    expect(styleEvent).toMatchObject({ type: 'style', name: 'bands', dir: join(root, 'bands') });
    const stored = loadStyleDir(join(root, 'bands'));
    expect(stored.manifest.archName).toBe('tiny');
    expect(stored.manifest.recipe.steps).toBe(6);
  }, 120_000);

  it('cancel stops the job and saves nothing', async () => {
    const root = mkdtempSync(join(tmpdir(), 'vigil-train-'));
    const { jobs: j, last } = make(root);
    const job = await j.start({
      name: 'never',
      painting: await bandsPainting(),
      steps: 5000,
      arch: 'tiny',
      size: 32,
      previewEvery: 50,
    });
    await until(() => (last()?.step ?? 0) >= 1, 60_000, 'the first step');
    expect(j.cancel(job.id + 1)).toBe(false);
    expect(j.cancel(job.id)).toBe(true);
    await until(() => last()?.state === 'cancelled', 30_000, 'the job to end cancelled');
    expect(last().message).toMatch(/nothing was saved/);
    expect(existsSync(join(root, 'never'))).toBe(false);
  }, 120_000);
});
