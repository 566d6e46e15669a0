import { UsageError } from '../errors';

/** True when `text` is JSON, or a prefix of some JSON text (it fails only for lack of an end). */
function isValidPrefix(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch (err) {
    // V8 reports running out of text either as "end of JSON input" or at position = length.
    const m = /position (\d+)/.exec((err as Error).message);
    return /end of JSON input/i.test((err as Error).message) || (m !== null && Number(m[1]) >= text.length);
  }
}

/**
 * Where a JSON syntax error is: the offset of the first character no JSON text could have
 * there. V8 does not always say (`Unexpected token '}', "..." is not valid JSON`), so find it
 * by bisection over prefixes: a prefix before the error is valid or merely unfinished.
 */
export function jsonErrorOffset(text: string): number {
  let lo = 0; // text.slice(0, lo) is a valid prefix
  let hi = text.length; // text.slice(0, hi) may be invalid
  if (isValidPrefix(text)) return text.length;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (isValidPrefix(text.slice(0, mid))) lo = mid;
    else hi = mid;
  }
  return hi - 1;
}

/**
 * Parse JSON given by a user; on a syntax error, say where (line, column, the line itself
 * with a caret) rather than only "Unexpected token".
 * @param source where the text came from, e.g. "the <json> argument" or "file event.json"
 * @throws UsageError
 */
export function parseJsonInput(text: string, source: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    const raw = (err as Error).message;
    const reason = raw.replace(/, ".*" is not valid JSON$/s, '').replace(/ in JSON at position \d+.*$/s, '');
    if (text.trim() === '') throw new UsageError(`malformed JSON in ${source}: it is empty`);
    const pos = jsonErrorOffset(text);
    const before = text.slice(0, pos);
    const line = before.split('\n').length;
    const lineStart = before.lastIndexOf('\n') + 1;
    const column = pos - lineStart + 1;
    const lineText = text.slice(lineStart).split('\n')[0] ?? '';
    const where = pos >= text.length ? 'at the end' : `at line ${line}, column ${column}`;
    throw new UsageError(`malformed JSON in ${source} ${where}: ${reason}\n  ${lineText}\n  ${' '.repeat(Math.max(0, column - 1))}^`);
  }
}
