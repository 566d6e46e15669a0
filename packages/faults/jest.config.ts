import { resolve } from 'node:path';
import type { Config } from 'jest';
import base from '../../jest.config';

/**
 * The fault suite (`pnpm test:faults`): the root config's transform and package mapping, but
 * only `*.fault.ts` files, one file at a time (the faults kill processes and restart servers,
 * and the machine running CI may have only two cores).
 */
const config: Config = {
  ...base,
  rootDir: resolve(__dirname, '../..'),
  roots: ['<rootDir>/packages/faults'],
  testMatch: ['**/packages/faults/test/**/*.fault.ts'],
  testTimeout: 240_000,
  maxWorkers: 1,
  verbose: true,
};

export default config;
