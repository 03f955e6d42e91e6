import { defineConfig } from 'vitest/config';

// pool 'forks': the pcsclite addon aborts the process inside worker threads
// (reference/environment.md), so every test file runs in a child process.
export default defineConfig({
  test: {
    pool: 'forks',
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    setupFiles: ['test/helpers/setup.ts'],
  },
});
