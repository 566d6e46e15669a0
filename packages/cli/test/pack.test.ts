/**
 * The published packages work outside the workspace: pack @streamfan/core and @streamfan/cli
 * the way `pnpm publish` would (prepack builds them), install the tarballs into a scratch
 * project in the OS temp directory with npm, then use them as a user would: an ESM import,
 * a CommonJS require, a type check of both module kinds, and the installed `streamfan` bin.
 * The scratch project is set up the way the README's tour says, and the README's `ts` snippets
 * run in it against a throwaway redis-server.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startRedis, uniquePrefix, type RedisServer } from '@streamfan/testing';

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..', '..');
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const VERSION = (JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;

jest.setTimeout(240_000);

let scratch: string;
let app: string;
let redis: RedisServer;

/** Run a command, failing with its output (not just its exit code) when it fails. */
async function sh(cmd: string, args: string[], cwd: string): Promise<{ stdout: string; stderr: string }> {
  const env = { ...process.env, NODE_OPTIONS: '', npm_config_update_notifier: 'false' };
  try {
    return await run(cmd, args, { cwd, env, maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    const e = err as Error & { stdout?: string; stderr?: string };
    throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd}: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`, { cause: err });
  }
}

async function tarContents(tarball: string): Promise<string[]> {
  const { stdout } = await sh('tar', ['-tzf', tarball], scratch);
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((f) => f.replace(/^package\//, ''));
}

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'streamfan-pack-'));
  // Packing runs each package's prepack (its build); core first, the CLI's build needs its types.
  await sh('pnpm', ['pack', '--pack-destination', scratch], join(ROOT, 'packages', 'core'));
  // The CLI depends on @streamfan/dashboard (`streamfan dashboard`): its tarball is installed too.
  await sh('pnpm', ['pack', '--pack-destination', scratch], join(ROOT, 'packages', 'dashboard'));
  await sh('pnpm', ['pack', '--pack-destination', scratch], join(ROOT, 'packages', 'cli'));
  app = join(scratch, 'app');
  mkdirSync(app);
  // The README's setup: npm init -y && npm pkg set type=module && npm install @streamfan/core tsx
  // (the CLI too, and the local tarballs in place of the registry's packages).
  await sh('npm', ['init', '-y'], app);
  await sh('npm', ['pkg', 'set', 'type=module'], app);
  const tarballs = readdirSync(scratch)
    .filter((f) => f.endsWith('.tgz'))
    .map((f) => join(scratch, f));
  const tsxVersion = (JSON.parse(readFileSync(join(ROOT, 'node_modules', 'tsx', 'package.json'), 'utf8')) as { version: string }).version;
  await sh('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', ...tarballs, `tsx@${tsxVersion}`], app);
  redis = await startRedis();
});

afterAll(async () => {
  await redis?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

test('the tarballs hold the builds (CommonJS, ESM, types), the LICENSE and no tests', async () => {
  const core = await tarContents(join(scratch, `streamfan-core-${VERSION}.tgz`));
  const cli = await tarContents(join(scratch, `streamfan-cli-${VERSION}.tgz`));
  for (const files of [core, cli]) {
    expect(files).toEqual(
      expect.arrayContaining([
        'package.json',
        'LICENSE',
        'CHANGELOG.md',
        'README.md',
        'dist/index.js',
        'dist/index.mjs',
        'dist/index.d.ts',
        'dist/index.d.mts',
      ]),
    );
    expect(files.filter((f) => /(^|\/)test\/|\.test\.|tsbuildinfo/.test(f))).toEqual([]);
  }
  expect(cli).toEqual(expect.arrayContaining(['bin/streamfan.js', 'dist/bin.js']));
});

test('ESM import: named exports, and the same instance as require (no dual-package hazard)', async () => {
  writeFileSync(
    join(app, 'esm.mjs'),
    `
    import { createRequire } from 'node:module';
    import { Streamfan, defineTopic, StreamfanError } from '@streamfan/core';
    import { main, VERSION } from '@streamfan/cli';
    const require = createRequire(import.meta.url);
    const topic = defineTopic('user.signup');
    console.log(JSON.stringify({
      streamfan: typeof Streamfan, topic: topic.name, main: typeof main, version: VERSION,
      sameClass: require('@streamfan/core').StreamfanError === StreamfanError,
    }));
  `,
  );
  const { stdout } = await sh(process.execPath, ['esm.mjs'], app);
  expect(JSON.parse(stdout)).toEqual({ streamfan: 'function', topic: 'user.signup', main: 'function', version: VERSION, sameClass: true });
});

test('CommonJS require', async () => {
  writeFileSync(
    join(app, 'cjs.cjs'),
    `
    const { Streamfan, defineTopic } = require('@streamfan/core');
    const { formatDuration } = require('@streamfan/cli');
    console.log(JSON.stringify({ streamfan: typeof Streamfan, topic: defineTopic('orders').name, d: formatDuration(90_000) }));
  `,
  );
  const { stdout } = await sh(process.execPath, ['cjs.cjs'], app);
  expect(JSON.parse(stdout)).toMatchObject({ streamfan: 'function', topic: 'orders' });
});

test('types: an ESM and a CommonJS file type-check against the installed declarations, and a wrong payload does not', async () => {
  const body = `
    type Signup = { userId: string; email: string };
    const signups = defineTopic<Signup>('user.signup');
    export async function demo(): Promise<string> {
      const sf: Streamfan = new Streamfan({ connection: 'redis://127.0.0.1:6379' });
      const id: string = await sf.publish(signups, { userId: 'u1', email: 'a@example.com' });
      // @ts-expect-error -- payloads are typed per topic
      await sf.publish(signups, { userId: 42 });
      await sf.close();
      return id;
    }
  `;
  writeFileSync(join(app, 'check-esm.mts'), `import { Streamfan, defineTopic } from '@streamfan/core';\n${body}`);
  writeFileSync(
    join(app, 'check-cjs.cts'),
    `import core = require('@streamfan/core');\nconst { Streamfan, defineTopic } = core;\ntype Streamfan = core.Streamfan;\n${body}`,
  );
  // The check can fail: bad.mts misuses the API. One tsc run: its errors, and only its errors.
  writeFileSync(join(app, 'bad.mts'), `import { Streamfan } from '@streamfan/core';\nnew Streamfan({ connection: 42 });\n`);
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module: 'node16',
        moduleResolution: 'node16',
        target: 'es2022',
        strict: true,
        noEmit: true,
        // No skipLibCheck: the shipped declarations must check too. Node's types from the workspace.
        types: ['node'],
        typeRoots: [join(ROOT, 'node_modules', '@types')],
      },
      files: ['check-esm.mts', 'check-cjs.cts', 'bad.mts'],
    }),
  );
  const failed = await sh(process.execPath, [TSC, '-p', 'tsconfig.json', '--pretty', 'false'], app).then(
    () => '',
    (e: Error) => e.message,
  );
  const errors = failed.split('\n').filter((l) => /error TS\d+/.test(l));
  expect(errors).toEqual([expect.stringMatching(/^bad\.mts\(2,\d+\): error TS\d+: /)]);
});

test('the installed streamfan bin runs compiled JavaScript: --help and --version', async () => {
  const bin = join(app, 'node_modules', '.bin', 'streamfan');
  const help = await sh(bin, ['--help'], app);
  expect(help.stdout).toMatch(/^Usage: streamfan /);
  expect(help.stdout).toContain('dlq');
  const version = await sh(bin, ['--version'], app);
  expect(version.stdout.trim()).toBe(VERSION);
});

describe('`pnpm streamfan ... --json` in the repository (as the README writes it) prints only JSON', () => {
  // Packing built dist/ in the workspace too, which is what `pnpm build` leaves for `pnpm streamfan`.
  const prefix = uniquePrefix('pnpmcli');
  const pnpmStreamfan = (...args: string[]) =>
    run('pnpm', ['streamfan', '--url', redis.url, '--prefix', prefix, ...args], {
      cwd: ROOT,
      env: { ...process.env, NODE_OPTIONS: '' },
    }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );

  test('success: stdout parses as JSON, nothing from pnpm', async () => {
    const published = await pnpmStreamfan('publish', 'readme.topic', '{"n":1}', '--create', '--json');
    expect(published.stderr).toBe('');
    expect(published.code).toBe(0);
    const topics = await pnpmStreamfan('topics', '--json');
    expect(topics.code).toBe(0);
    expect(JSON.parse(topics.stdout).topics).toEqual(
      expect.arrayContaining([expect.objectContaining({ topic: 'readme.topic', length: 1 })]),
    );
  });

  test('failure: the exit code is the CLI\'s, stdout is the JSON error, stderr is one line (no pnpm "Command failed")', async () => {
    const r = await pnpmStreamfan('show', 'readme.topic', '1-1', '--json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ error: { code: 'NOT_FOUND' } });
    expect(r.stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(/^streamfan: error: /)]);
  });
});

describe('README: every ts snippet runs as pasted in the project the README sets up', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const snippets = [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
  const CLOSE = 'await sf.close();\n';
  const first = snippets[0] ?? '';
  /** Snippet 1 is a program; each later one goes just before its last line, as the README says. */
  const programs = snippets.map((body, i) => (i === 0 ? body : `${first.slice(0, -CLOSE.length)}\n${body}\n${CLOSE}`));

  test('the README has its snippets, and snippet 1 ends with the line the others go before', () => {
    expect(snippets.length).toBeGreaterThanOrEqual(5);
    expect(first.endsWith(CLOSE)).toBe(true);
  });

  test('they type-check (strict) as ESM in that project', async () => {
    programs.forEach((p, i) => writeFileSync(join(app, `tour-${i + 1}.ts`), p));
    writeFileSync(
      join(app, 'tsconfig.tour.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: ['node'],
          typeRoots: [join(ROOT, 'node_modules', '@types')],
        },
        files: programs.map((_, i) => `tour-${i + 1}.ts`),
      }),
    );
    await sh(process.execPath, [TSC, '-p', 'tsconfig.tour.json', '--pretty', 'false'], app);
  });

  test('they run with `npx tsx` against Redis (REDIS_URL) and exit 0', async () => {
    for (const [i, p] of programs.entries()) {
      writeFileSync(join(app, `tour-${i + 1}.ts`), p);
      // Each program on its own server: one program's groups (the status snippet subscribes 'analytics',
      // whose group exists or not depending on how far it got before close) must not be waited
      // for by the next program's waitFor (all groups of the topic).
      const own = await startRedis();
      const env = { ...process.env, NODE_OPTIONS: '', REDIS_URL: own.url };
      const r = await run(join(app, 'node_modules', '.bin', 'tsx'), [`tour-${i + 1}.ts`], { cwd: app, env, timeout: 60_000 })
        .then(
          ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
          (e: { code: number; stdout: string; stderr: string }) => e,
        )
        .finally(() => own.stop());
      if (r.code !== 0) throw new Error(`README snippet ${i + 1} failed (exit ${r.code}):\n${snippets[i]}\n--- stderr:\n${r.stderr}`);
      if (i === 0) expect(r.stdout).toMatch(/email: welcome ada@example\.com \(attempt 1\)/);
    }
  });
});
