import { Streamfan } from '@streamfan/core';
import { startRedis, uniquePrefix, type RedisServer } from '@streamfan/testing';
import { main, type Io } from '../src';

/**
 * The confirmation prompt, with a fake terminal (main() runs in-process with its own Io):
 * "y" goes ahead, anything else changes nothing and exits 1.
 */
let server: RedisServer;
let sf: Streamfan;
const prefix = uniquePrefix();
let ids: string[];

function fakeTerminal(answer: string): Io & { stdout: string; stderr: string; asked: string[] } {
  const io = {
    stdout: '',
    stderr: '',
    asked: [] as string[],
    out(t: string) {
      io.stdout += `${t}\n`;
    },
    err(t: string) {
      io.stderr += `${t}\n`;
    },
    stdinIsTty: true,
    readStdin: async () => '',
    ask: async (q: string) => {
      io.asked.push(q);
      return answer;
    },
  };
  return io;
}

beforeAll(async () => {
  server = await startRedis();
  sf = new Streamfan({ connection: server.url, prefix, retention: false });
  ids = await sf.publishMany('t', [1, 2]);
  await sf.redis.xgroup('CREATE', `${prefix}:{t}:stream`, 'g', '0');
  await sf.redis.xreadgroup('GROUP', 'g', 'c1', 'COUNT', 10, 'STREAMS', `${prefix}:{t}:stream`, '>');
});

afterAll(async () => {
  await sf.close();
  await server.stop();
});

test('answering no changes nothing and exits 1; yes acknowledges', async () => {
  const no = fakeTerminal('n');
  expect(await main(['node', 'streamfan', '--url', server.url, '--prefix', prefix, 'ack', 't', 'g', ids[0]!], no)).toBe(1);
  expect(no.asked).toEqual([`acknowledge 1 entry of group "g" in topic "t" without handling it? [y/N] `]);
  expect(no.stderr).toBe(
    `streamfan: error: not confirmed: nothing was changed (acknowledge 1 entry of group "g" in topic "t" without handling it)\n`,
  );
  expect((await sf.pending('t', 'g')).map((e) => e.id)).toEqual(ids);

  const yes = fakeTerminal('y');
  expect(await main(['node', 'streamfan', '--url', server.url, '--prefix', prefix, 'ack', 't', 'g', ids[0]!], yes)).toBe(0);
  expect(yes.stdout).toMatch(/^acknowledged 1\n/);
  expect((await sf.pending('t', 'g')).map((e) => e.id)).toEqual([ids[1]]);
});

test('--yes does not ask', async () => {
  const io = fakeTerminal('');
  expect(
    await main(
      ['node', 'streamfan', '--url', server.url, '--prefix', prefix, 'claim', 't', 'g', ids[1]!, '--to', 'c2', '--yes', '--json'],
      io,
    ),
  ).toBe(0);
  expect(io.asked).toEqual([]);
  expect(JSON.parse(io.stdout)).toMatchObject({ claimed: [{ id: ids[1], previousOwner: 'c1' }] });
});
