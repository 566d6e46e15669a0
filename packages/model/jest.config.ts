import { resolve } from 'node:path';
import type { Config } from 'jest';
import base from '../../jest.config';

/**
 * The model-based randomized test (`pnpm test:model`): the root config's transform and package
 * mapping, but only `*.model.ts` files, one at a time (each sequence runs worker processes and
 * restarts its redis-server; the CI machine may have two cores).
 */
const config: Config = {
  ...base,
  rootDir: resolve(__dirname, '../..'),
  roots: ['<rootDir>/packages/model'],
  testMatch: ['**/packages/model/test/**/*.model.ts'],
  testTimeout: 600_000,
  maxWorkers: 1,
  verbose: true,
};

export default config;
