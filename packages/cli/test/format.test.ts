import { StreamfanError, NotFoundError, InvalidNameError } from '@streamfan/core';
import {
  classify,
  formatDuration,
  formatPairs,
  formatTable,
  jsonErrorOffset,
  parseDuration,
  parseJsonInput,
  truncate,
  UsageError,
} from '../src';
import { formatRelative } from '../src/format/time';

describe('formatDuration', () => {
  test.each([
    [0, '0ms'],
    [850, '850ms'],
    [1000, '1s'],
    [59_999, '59s'],
    [60_000, '1m00s'],
    [192_000, '3m12s'],
    [3_599_000, '59m59s'],
    [3_600_000, '1h00m'],
    [7_500_000, '2h05m'],
    [86_400_000, '1d00h'],
    [273_600_000, '3d04h'],
    [-1500, '-1s'],
    [null, '-'],
    [undefined, '-'],
    [Number.NaN, '-'],
  ])('%p → %p', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe('parseDuration', () => {
  test.each([
    ['500', 500],
    ['500ms', 500],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h30m', 5_400_000],
    ['2d', 172_800_000],
    ['1.5s', 1500],
    [' 10s ', 10_000],
  ])('%p → %p', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });
  test.each(['', 'abc', '5 minutes', '-5s', '1x', 's'])('%p is not a duration', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
  test('round trip of what formatDuration prints', () => {
    expect(parseDuration(formatDuration(192_000))).toBe(192_000);
  });
});

describe('formatTable', () => {
  test('aligns columns, right-aligns numbers, keeps ids whole, no trailing spaces', () => {
    const text = formatTable(
      [
        { header: 'ID', value: (r: { id: string; n: number; note: string }) => r.id },
        { header: 'N', value: (r) => String(r.n), align: 'right' },
        { header: 'NOTE', value: (r) => r.note },
      ],
      [
        { id: '1795825487883-0', n: 7, note: '' },
        { id: '1-0', n: 1234, note: 'two\nlines' },
      ],
    );
    expect(text.split('\n')).toEqual(['ID                  N  NOTE', '1795825487883-0     7', '1-0              1234  two\\nlines']);
  });
  test('header only when there are no rows', () => {
    expect(formatTable([{ header: 'A', value: () => 'x' }], [])).toBe('A');
  });
  test('formatPairs aligns keys; truncate marks the cut', () => {
    expect(
      formatPairs([
        ['id', '1-0'],
        ['in stream', 'yes'],
      ]),
    ).toBe('id:         1-0\nin stream:  yes');
    expect(truncate('abcdef', 4)).toBe('abc…');
    expect(truncate('abc', 4)).toBe('abc');
  });
  test('formatRelative says ago and in', () => {
    expect(formatRelative(new Date(1_000), 193_000)).toBe('3m12s ago');
    expect(formatRelative(new Date(5_000), 1_000)).toBe('in 4s');
    expect(formatRelative(undefined)).toBe('-');
  });
});

describe('parseJsonInput', () => {
  test('parses valid JSON', () => {
    expect(parseJsonInput('{"a":[1,2]}', 'x')).toEqual({ a: [1, 2] });
  });
  test.each([
    ['{"a":}', 5],
    ['[1,2,]', 5],
    ['{"a":1', 6],
    ['{a:1}', 1],
    ['{"a":1}x', 7],
    ['nul', 3],
    ['{"a":1,\n"b": [1,2,]}', 18],
  ])('error offset of %p is %p', (text, offset) => {
    expect(jsonErrorOffset(text)).toBe(offset);
  });
  test('the error says where: line, column, the line and a caret', () => {
    let err: unknown;
    try {
      parseJsonInput('{"a":1,\n"b": [1,2,]}', 'file e.json');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toBe(
      'malformed JSON in file e.json at line 2, column 11: Unexpected token \']\'\n  "b": [1,2,]}\n            ^',
    );
  });
  test('empty and unfinished input', () => {
    expect(() => parseJsonInput('  ', 'stdin')).toThrow('malformed JSON in stdin: it is empty');
    expect(() => parseJsonInput('{"a":1', 'stdin')).toThrow(/malformed JSON in stdin at the end: Expected ',' or '}'/);
  });
});

describe('classify (exit codes)', () => {
  test('usage errors exit 2, failed operations 1', () => {
    expect(classify(new UsageError('x'))).toEqual({ exitCode: 2, code: 'USAGE' });
    expect(classify(new InvalidNameError('x'))).toEqual({ exitCode: 2, code: 'INVALID_NAME' });
    expect(classify(new NotFoundError('x'))).toEqual({ exitCode: 1, code: 'NOT_FOUND' });
    expect(classify(new StreamfanError('REDIS_UNAVAILABLE', 'x'))).toEqual({ exitCode: 1, code: 'REDIS_UNAVAILABLE' });
    expect(classify(new Error('x'))).toEqual({ exitCode: 1, code: 'ERROR' });
  });
});
