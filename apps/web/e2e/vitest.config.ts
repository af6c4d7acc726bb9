import { defineConfig } from 'vitest/config';

// End-to-end: the real server (built if needed), real Chromium, one file at a time.
export default defineConfig({
  test: {
    include: ['e2e/**/*.e2e.ts'],
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 420_000,
  },
});
