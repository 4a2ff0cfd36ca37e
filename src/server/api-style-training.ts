/**
 * Training a style from the page (admin token, like every change; src/style/training-jobs.ts):
 *   POST   /api/styles/training?name=N[&steps=S&arch=A&size=P&previewEvery=K]  the painting as the body
 *   GET    /api/styles/training       the running (or last) job
 *   DELETE /api/styles/training/:id   cancel it
 * Progress and previews go to every viewer over the WebSocket (styleTraining messages); the new
 * style joins every camera's picker (a styles message). A body that is not an image, a painting
 * smaller than 64 px or over 40 megapixels is refused with a problem+json naming the problem.
 */
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import { StyleTrainingJob } from '../defs/ws.js';
import type { StyleTrainingJobs } from '../style/training-jobs.js';
import { JobError } from '../style/training-jobs.js';
import { HttpError, imageBody, parseId } from './api-body.js';
import { idParam, type Reply, type Route, route } from './api-router.js';
import { strictQueryParam } from './query.js';

export interface StyleTrainingRouteDeps {
  /** Throws 409 when the pipeline has no style stage. */
  training: () => StyleTrainingJobs;
  maxBodyBytes: number;
}

const LIMITS = {
  steps: { min: 1, max: 20000, default: 400 },
  size: { min: 32, max: 256, default: 128 },
  previewEvery: { min: 1, max: 1000, default: 0 },
};

/** An integer query parameter within its bounds (400 naming it otherwise). */
function intParam(req: IncomingMessage, key: keyof typeof LIMITS): number {
  const l = LIMITS[key];
  const raw = strictQueryParam(req, key);
  if (raw === null || raw === '') return l.default;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < l.min || n > l.max)
    throw new HttpError(400, `${key} must be an integer from ${l.min} to ${l.max} (got "${raw}")`);
  if (key === 'size' && n % 4 !== 0) throw new HttpError(400, `size must be a multiple of 4 (got ${n})`);
  return n;
}

const withStatus = async <T>(f: () => Promise<T> | T): Promise<T> => {
  try {
    return await f();
  } catch (e) {
    if (e instanceof JobError) throw new HttpError(e.status, e.message);
    throw e;
  }
};

/** POST /api/styles/training: checks the parameters, reads the painting, starts the job (202). */
async function startJob(d: StyleTrainingRouteDeps, req: IncomingMessage): Promise<Reply> {
  const training = d.training();
  const name = strictQueryParam(req, 'name');
  if (!name)
    throw new HttpError(
      400,
      'name is required: POST /api/styles/training?name=NAME with the painting as the body',
    );
  const arch = strictQueryParam(req, 'arch') ?? 'small';
  if (arch !== 'tiny' && arch !== 'small')
    throw new HttpError(400, `arch must be tiny or small (got "${arch}")`);
  const steps = intParam(req, 'steps');
  // previews: a fifth of the way each (at most every 20 steps) unless asked
  const previewEvery = intParam(req, 'previewEvery') || Math.max(1, Math.min(20, Math.round(steps / 5)));
  const opts = { steps, size: intParam(req, 'size'), previewEvery };
  const painting = await imageBody(req, d.maxBodyBytes);
  const job = await withStatus(() => training.start({ name, painting, arch, ...opts }));
  return { status: 202, json: job };
}

export function createStyleTrainingRoutes(d: StyleTrainingRouteDeps): Route[] {
  return [
    route(
      'POST',
      {
        path: '/api/styles/training',
        summary: 'Train a new style from the painting in the body, in the background (admin)',
        query: {
          name: z.string().describe('the new style (lower-case letters, digits, - and _)'),
          steps: z.string().optional().describe(`training steps (default ${LIMITS.steps.default})`),
          arch: z.enum(['tiny', 'small']).optional().describe('network size (default small)'),
          size: z.string().optional().describe(`crop side, multiple of 4 (default ${LIMITS.size.default})`),
          previewEvery: z
            .string()
            .optional()
            .describe('steps between previews (default: a fifth of the steps, at most 20)'),
        },
        body: { image: true },
        ok: [202, { description: 'the job, started', json: StyleTrainingJob }],
        errors: {
          400: 'a bad name or parameter',
          409: 'a training is running, the name is taken, or there is no style stage',
          413: 'painting too large (bytes)',
          415: 'not an image type',
          422: 'not a readable image, or too small / too large in pixels',
        },
      },
      (req) => startJob(d, req),
    ),
    route(
      'GET',
      {
        path: '/api/styles/training',
        summary: 'The style training running now, or the last one',
        ok: [200, { description: 'the job', json: StyleTrainingJob }],
        errors: { 404: 'no training was started' },
      },
      async () => {
        const job = d.training().current();
        if (!job) throw new HttpError(404, 'no style training was started');
        return { status: 200, json: job };
      },
    ),
    route(
      'DELETE',
      {
        path: '/api/styles/training/:id',
        summary: 'Cancel a style training (admin); nothing is saved',
        params: { id: idParam('the job') },
        ok: [
          202,
          { description: 'cancelling: the job ends as cancelled (WebSocket, GET)', json: StyleTrainingJob },
        ],
        errors: { 404: 'no such running job' },
      },
      async (_req, m) => {
        const id = parseId(m[1]);
        const training = d.training();
        if (!training.cancel(id)) throw new HttpError(404, `no running style training ${id}`);
        return { status: 202, json: training.current() };
      },
    ),
  ];
}
