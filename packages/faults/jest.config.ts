import { resolve } from 'node:path';
import type { Config } from 'jest';

/**
 * The fault suite (`pnpm test:faults`): real worker processes, a real redis-server per
 * file, one file at a time (the faults kill processes and restart servers, and the
 * machine running CI may have only two cores).
 */
const config: Config = {
  rootDir: resolve(__dirname, '../..'),
  testEnvironment: 'node',
  roots: ['<rootDir>/packages/faults'],
  testMatch: ['**/packages/faults/test/**/*.fault.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  moduleNameMapper: {
    '^@streamfan/(core|testing|cli)$': '<rootDir>/packages/$1/src/index.ts',
  },
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.tests.json' }],
  },
  testTimeout: 240_000,
  maxWorkers: 1,
  verbose: true,
};

export default config;
