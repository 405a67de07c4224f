/**
 * @module vitest.config — one vitest run for unit, flow and test-bed tests. The global setup
 * builds/starts the real Gitea test bed (docs/testbed.md); the first cold build of Gitea can
 * take minutes, hence the long hook timeout.
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 600_000,
  },
});
