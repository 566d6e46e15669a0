#!/usr/bin/env node
'use strict';
// The `streamfan` command: runs the compiled CLI (dist/, built by `pnpm build`), no TypeScript
// loader at run time, so each call starts in a fraction of a second.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const entry = join(__dirname, '..', 'dist', 'bin.js');
if (!existsSync(entry)) {
  // Only in a source checkout: a published package always ships dist/.
  process.stderr.write('streamfan: the CLI is not built yet: run `pnpm build` in the streamfan repository, then try again\n');
  process.exit(1);
}
require(entry);
