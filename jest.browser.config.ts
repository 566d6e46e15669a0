import type { Config } from 'jest';
import base from './jest.config';

/**
 * `pnpm test:browser`: the tests that drive the demo's page in headless Chromium
 * (`*.browser.test.ts`). They need Chromium at /usr/bin/chromium (or CHROMIUM_PATH), which
 * `pnpm test` does not, so they have their own command; `.ci/run` installs Chromium and runs it.
 */
const config: Config = {
  ...base,
  testMatch: ['**/test/**/*.browser.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  testTimeout: 120_000,
  maxWorkers: 1,
};

export default config;
