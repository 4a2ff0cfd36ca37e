import { defineConfig } from 'vitest/config';

/** Under CI the counts also go to a JSON file, read by .ci/summary.mjs to refuse skipped tests. */
const ciResults = process.env.VIGIL_TEST_RESULTS;

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real ffmpeg / RTSP servers / workers: keep files sequential on 2 cores.
    fileParallelism: false,
    reporters: ciResults ? ['default', ['json', { outputFile: ciResults }]] : ['default'],
  },
});
