import type { Config } from 'jest';

/**
 * Tests run against `src` (no build): package names map to their sources.
 * Every test file that needs Redis starts its own throwaway redis-server
 * (see @streamfan/testing), so files run in parallel without sharing data.
 */
const config: Config = {
  testEnvironment: 'node',
  roots: ['<rootDir>/packages', '<rootDir>/examples', '<rootDir>/bench'],
  testMatch: ['**/test/**/*.test.ts'],
  // Browser tests need Chromium: they run with `pnpm test:browser` (jest.browser.config.ts).
  testPathIgnorePatterns: ['/node_modules/', '/dist/', '\\.browser\\.test\\.ts$'],
  moduleNameMapper: {
    '^@streamfan/(core|testing|cli|dashboard)$': '<rootDir>/packages/$1/src/index.ts',
    '^@streamfan/core/internal$': '<rootDir>/packages/core/src/internal.ts',
  },
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.tests.json' }],
  },
  testTimeout: 30_000,
  maxWorkers: 2,
};

export default config;
