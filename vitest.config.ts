import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real ffmpeg / RTSP servers / workers: keep files sequential on 2 cores.
    fileParallelism: false,
    reporters: ['default'],
  },
});
