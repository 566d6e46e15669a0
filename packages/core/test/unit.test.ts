import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import {
  backoffDelay, defineTopic, InvalidNameError, InvalidOptionError, InvalidPayloadError, jsonCodec,
  resolveSubscribeOptions, topicKeys, validateGroupName, validateTopicName,
} from '../src/internal';
import { encodeResult, parseEntry } from '../src/consumer/entry';
import { encodeEvent } from '../src/publisher';
import { compareIds } from '../src/ids';
import { topicFromStreamKey } from '../src/keys';

describe('names', () => {
  test.each([
    ['', /empty/],
    ['a'.repeat(129), /over the limit of 128/],
    ['user{1}', /brace/],
    ['has space', /white space/],
    ['bell\u0007', /control character/],
    ['star*', /outside the allowed set/],
  ])('topic %j is refused with a message that says why', (name, why) => {
    expect(() => validateTopicName(name)).toThrow(InvalidNameError);
    expect(() => validateTopicName(name)).toThrow(why);
  });

  test('good names pass, and group names may not contain ":" (it separates status fields)', () => {
    expect(validateTopicName('orders.v2:eu/created')).toBe('orders.v2:eu/created');
    expect(validateGroupName('billing-service_1.a')).toBe('billing-service_1.a');
    expect(() => validateGroupName('a:b')).toThrow(InvalidNameError);
    expect(() => defineTopic('')).toThrow(/topic name is empty/);
  });
});

describe('keys', () => {
  test('every key of a topic shares its hash tag, and the topic is recovered from the stream key', () => {
    const k = topicKeys('sf', 'user.signup');
    const all = [k.stream, k.delayed, k.done, k.status('1-0'), k.idempotency('x'), k.retry('g'), k.redeliver('g'), k.deadLetters('g')];
    for (const key of all) expect(key.startsWith('sf:{user.signup}:')).toBe(true);
    expect(new Set(all).size).toBe(all.length);
    expect(topicFromStreamKey('sf', k.stream)).toBe('user.signup');
    expect(topicFromStreamKey('other', k.stream)).toBeUndefined();
  });
});

describe('backoff', () => {
  test('exponential grows by factor, is capped, and jitter stays within its fraction', () => {
    const b = { type: 'exponential' as const, baseMs: 100, factor: 3, maxMs: 1000, jitter: 0 };
    expect([1, 2, 3, 4].map((a) => backoffDelay(b, a, null))).toEqual([100, 300, 900, 1000]);
    const j = { ...b, jitter: 0.5 };
    expect(backoffDelay(j, 1, null, () => 0)).toBe(50);
    expect(backoffDelay(j, 1, null, () => 1)).toBe(150);
  });

  test('fixed and function backoffs; bad options are refused early', () => {
    expect(backoffDelay({ type: 'fixed', delayMs: 250 }, 7, null)).toBe(250);
    expect(backoffDelay((attempt) => attempt * 10, 4, null)).toBe(40);
    expect(() => resolveSubscribeOptions({ backoff: { type: 'exponential', factor: 0.5 } })).toThrow(InvalidOptionError);
    expect(() => resolveSubscribeOptions({ concurrency: 0 })).toThrow(/concurrency must be a whole number from 1/);
    expect(() => resolveSubscribeOptions({ startFrom: { id: 'yesterday' } })).toThrow(/stream id/);
  });
});

describe('payload encoding', () => {
  const topic = defineTopic<unknown>('t', { maxPayloadBytes: 64 });
  test.each([
    [{ price: NaN }, /payload\.price is NaN/],
    [{ a: [1, undefined] }, /payload\.a\[1\] is undefined/],
    [{ big: 10n }, /BigInt/],
    [{ m: new Map() }, /Map/],
    [{ f: () => 1 }, /function/],
  ])('%p is refused before anything is written', (payload, why) => {
    expect(() => encodeEvent(topic, payload)).toThrow(InvalidPayloadError);
    expect(() => encodeEvent(topic, payload)).toThrow(why);
  });

  test('cycles, oversize payloads and non-string headers are refused', () => {
    const cyc: Record<string, unknown> = {};
    cyc.self = cyc;
    expect(() => encodeEvent(topic, cyc)).toThrow(/cycle/);
    expect(() => encodeEvent(topic, 'x'.repeat(100))).toThrow(/102 bytes encoded, over the limit of 64/);
    expect(() => encodeEvent(topic, 1, { n: 1 as unknown as string })).toThrow(/header "n" must be a string/);
  });

  test('dates and undefined properties behave as JSON users expect', () => {
    const e = encodeEvent(topic, { at: new Date(0), skip: undefined });
    expect(JSON.parse(e.payload)).toEqual({ at: '1970-01-01T00:00:00.000Z' });
  });
});

describe('entries', () => {
  const codec = jsonCodec<unknown>();
  test('entries written by other programs are reported as malformed, never thrown', () => {
    expect(parseEntry(['1-0', ['body', 'x']], codec, false)).toMatchObject({ reason: expect.stringMatching(/no "payload" field \(fields: body\)/) });
    expect(parseEntry(['1-0', ['payload', '{oops']], codec, false)).toMatchObject({ reason: expect.stringMatching(/cannot be decoded/) });
    expect(parseEntry(['1-0', ['payload', '1', 'headers', '[1]']], codec, false)).toMatchObject({ reason: expect.stringMatching(/headers are not a JSON object/) });
    expect(parseEntry(['1-0', null], codec, false)).toMatchObject({ reason: expect.any(String) });
  });

  test('redelivered copies carry the event id and base attempts', () => {
    expect(parseEntry(['9-0', ['payload', '"p"', 'headers', '', 'orig', '5-1', 'base', '2']], codec, true))
      .toEqual({ entryId: '9-0', eventId: '5-1', base: 2, payload: 'p', headers: {} });
  });

  test('results are capped and ids are ordered numerically', () => {
    expect(encodeResult(undefined, 10)).toBe('');
    expect(JSON.parse(encodeResult('x'.repeat(500), 200))).toMatchObject({ truncated: true, bytes: 502 });
    expect(['10-0', '9-5', '9-10'].sort(compareIds)).toEqual(['9-5', '9-10', '10-0']);
  });
});

test('the embedded Lua is in sync with src/scripts/lua', () => {
  const tool = join(__dirname, '..', 'tools', 'embed-lua.mjs');
  expect(() => execFileSync(process.execPath, [tool, '--check'], { stdio: 'pipe' })).not.toThrow();
});
