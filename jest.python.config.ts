import type { Config } from 'jest';
import base from './jest.config';

/**
 * `pnpm test:python`: a Python consumer group (examples/python-consumer) beside TypeScript ones,
 * through streamfan's own scripts (`*.python.ts`). It needs python3 with venv (Debian:
 * python3-venv) and pip's index, which `pnpm test` does not, so it has its own command;
 * `.ci/run` installs python3-venv and runs it.
 */
const config: Config = {
  ...base,
  roots: ['<rootDir>/examples/python-consumer'],
  testMatch: ['**/test/**/*.python.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/\\.venv/'],
  testTimeout: 120_000,
  maxWorkers: 1,
};

export default config;
