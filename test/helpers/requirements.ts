/**
 * One rule for tests that need a real component or the shared data: outside CI a missing piece
 * skips the tests with a message (a developer without GStreamer can still run the rest); under CI
 * (`CI=true`, as `.ci/run` runs) it is a failure that names the piece, so a green CI cannot hide
 * tests that never ran.
 */
import { test } from 'vitest';
import { componentMissing } from './system-deps.mjs';

export { componentMissing };

/** True when CI=true / CI=1: missing components and data fail instead of skipping. */
export function underCi(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = (env.CI ?? '').toLowerCase();
  return v === 'true' || v === '1' || v === 'yes';
}

/**
 * Decides whether the tests that need something must skip. `why` is null/undefined when it is
 * there. Outside CI: warns and returns true (skip). Under CI: also registers a test that fails
 * with `why`, so the run fails naming the missing piece. Call it while tests are collected (at
 * the top of a file or inside a describe body), e.g. `describe.skipIf(skipUnless(why, 'RTSP e2e'))`.
 */
export function skipUnless(why: string | null | undefined, what: string): boolean {
  if (!why) return false;
  if (underCi()) {
    test(`requirement of ${what}: ${why}`, () => {
      throw new Error(`CI=true and a requirement of ${what} is missing: ${why}. .ci/run installs it.`);
    });
  } else {
    console.warn(`SKIPPED ${what}: ${why}`);
  }
  return true;
}
