import { configDefaults, defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['server/**/*.test.ts', 'web/src/**/*.test.ts'],
          // Kept out of `npm test`, which needs no service: `npm run test:cluster` runs them
          exclude: [...configDefaults.exclude, 'server/**/*.cluster.test.ts'],
          environment: 'node',
          testTimeout: 20_000,
          hookTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['web/e2e/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
      {
        // npm pack, then npm install -g of the tarball in a temp prefix: better-sqlite3 compiles, a minute or two
        test: {
          name: 'package',
          include: ['scripts/**/*.test.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 600_000,
        },
      },
      {
        // Private Redis and PostgreSQL servers, started by the tests from the Debian packages' binaries
        test: {
          name: 'cluster',
          include: ['server/**/*.cluster.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
})
