import { defineConfig } from 'vitest/config';

/** Under CI the counts also go to a JSON file, read by .ci/summary.mjs to refuse skipped tests. */
const ciResults = process.env.VIGIL_TEST_RESULTS;

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ciResults ? ['default', ['json', { outputFile: ciResults }]] : ['default'],
    projects: [
      {
        extends: true,
        // Unit files start nothing shared (no fixed port, no real server timing): two at a time. Set
        // here, as vitest's default on a 2-core CI machine is one worker (cores - 1).
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        // Integration and e2e tests start real ffmpeg / RTSP servers / workers and some assert on
        // timing: one file at a time, after the unit files (groupOrder), alone on the 2 cores.
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
