/**
 * Stopping a worker thread that may hold ONNX Runtime sessions. `worker.terminate()` while a native
 * session call is in flight aborts the whole process ("terminate called after throwing an instance
 * of 'Napi::Error'", reproduced here with a style host closed mid-frame). So the host asks first: the
 * worker finishes what is in flight, releases its sessions and exits by itself; terminate() is the
 * fallback for a worker that does not answer in time.
 */
import type { Worker } from 'node:worker_threads';

/** The message a worker receives when asked to finish and exit. */
export const CLOSE_MESSAGE = { type: 'close' } as const;

/** Asks `worker` to close and waits for it to exit; terminates it after `timeoutMs`. */
export async function closeWorker(
  worker: Worker,
  opts: { exited: boolean; timeoutMs?: number },
): Promise<'closed' | 'terminated' | 'already exited'> {
  if (opts.exited) return 'already exited';
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  worker.postMessage(CLOSE_MESSAGE);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void worker.terminate();
  }, opts.timeoutMs ?? 10_000);
  await exited;
  clearTimeout(timer);
  return timedOut ? 'terminated' : 'closed';
}

/**
 * Worker side: runs `cleanup` (finish in-flight work, release native sessions), then ends the thread.
 * A cleanup error is reported on stderr, never left to abort the process.
 */
export async function exitWorker(cleanup: () => Promise<void>): Promise<never> {
  try {
    await cleanup();
  } catch (e) {
    process.stderr.write(`worker cleanup failed: ${(e as Error).message}\n`);
  }
  process.exit(0);
}
