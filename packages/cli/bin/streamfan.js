#!/usr/bin/env node
// Installed entry point: runs the compiled CLI (`pnpm --filter @streamfan/cli build`).
// In this repository, `pnpm streamfan ...` runs the TypeScript sources through tsx instead.
require('../dist/bin.js');
