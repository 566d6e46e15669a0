import { now } from './clock';

/** A bench payload: publish time `t` (wall-clock ms), index `i`, padding to a size; `w` marks warm-up. */
export interface BenchPayload { t: number; i: number; w?: 1; p: string }

/** A payload whose JSON is about `bytes` long. */
export function makePayload(i: number, bytes: number, warm = false): BenchPayload {
  const base: BenchPayload = { t: now(), i, ...(warm ? { w: 1 as const } : {}), p: '' };
  const pad = Math.max(0, bytes - JSON.stringify(base).length);
  base.p = 'x'.repeat(pad);
  return base;
}

/** `count` payloads of about `bytes` bytes each, numbered from `from`. */
export function makePayloads(from: number, count: number, bytes: number): BenchPayload[] {
  const out: BenchPayload[] = [];
  for (let i = 0; i < count; i++) out.push(makePayload(from + i, bytes));
  return out;
}
