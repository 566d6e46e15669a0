#!/usr/bin/env node
// `pnpm test:model [--seeds N] [--from S] [--seed S[,S…]] [--commands SPEC] [--shrink] [--verbose] [--keep]`
// Runs the model-based sequences (packages/model/test/*.model.ts) through jest, one seed per test:
//   --seeds N     N seeds from --from (default 1): N sequences
//   --seed 7,12   exactly these seeds
//   --commands    command mix: '-destroy', '-redisRestart', 'all' (see test/sequences.model.ts)
//   --skip-checks a,b   do not fail on these checks (counted in the stats)
//   --harsh       shorter visibility timeout, 3× the faults and misbehaving handlers
//   --shrink      on failure, shrink the sequence with fast-check (each try is a full run)
// Without --seeds/--seed it runs the CI set. Other arguments go to jest.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const args = process.argv.slice(2);
const env = { ...process.env };
const rest = [];
let count;
let from = 1;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  const value = () => {
    const v = args[++i];
    if (v === undefined) { console.error(`${a} needs a value`); process.exit(2); }
    return v;
  };
  if (a === '--seeds') count = Number(value());
  else if (a === '--from') from = Number(value());
  else if (a === '--seed') env.MODEL_SEEDS = value();
  else if (a === '--commands') env.MODEL_COMMANDS = value();
  else if (a === '--skip-checks') env.MODEL_SKIP_CHECKS = value();
  else if (a === '--harsh') env.MODEL_PROFILE = 'harsh';
  else if (a === '--shrink') env.MODEL_SHRINK = '1';
  else if (a === '--verbose') env.MODEL_VERBOSE = '1';
  else if (a === '--keep') env.MODEL_KEEP = '1';
  else if (a !== '--') rest.push(a);
}
if (count !== undefined) {
  if (!Number.isInteger(count) || count < 1 || !Number.isInteger(from)) { console.error('--seeds takes a whole number ≥ 1, --from a whole number'); process.exit(2); }
  env.MODEL_SEEDS = Array.from({ length: count }, (_, i) => from + i).join(',');
}
const jest = join(root, 'node_modules/jest/bin/jest.js');
const r = spawnSync(process.execPath, [jest, '--config', join(root, 'packages/model/jest.config.ts'), ...rest], { cwd: root, env, stdio: 'inherit' });
process.exit(r.status ?? 1);
