import type { IncomingMessage } from 'node:http';
import { BadRequest, HttpError, PayloadTooLarge } from './errors';

/** A parsed JSON object body. */
export type Body = Record<string, unknown>;

const MAX_BODY = 64 * 1024;
/** A stream entry id, with its priority lane outside the default lane (`high:1700000000000-0`). */
const ENTRY_ID = /^(?:[a-z][a-z0-9_-]{0,15}:)?\d{1,20}-\d{1,20}$/;

/**
 * Read a JSON object body. An empty body is `{}`. POST bodies must say
 * `Content-Type: application/json`: that also keeps other web sites from posting to the
 * demo (a cross-site JSON request needs a CORS preflight, which this server never grants).
 */
export async function readJson(req: IncomingMessage): Promise<Body> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new HttpError(415, `send Content-Type: application/json (got ${type ? JSON.stringify(type) : 'none'}), with a JSON object body or none`, 'UNSUPPORTED_MEDIA_TYPE');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new PayloadTooLarge(MAX_BODY);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new BadRequest(`body is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new BadRequest('body must be a JSON object, e.g. {"count": 10}');
  return value as Body;
}

/** Reject fields the route does not know, so a typo is not silently ignored. */
export function onlyFields(body: Body, allowed: readonly string[]): void {
  const unknown = Object.keys(body).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) {
    throw new BadRequest(`unknown field${unknown.length === 1 ? '' : 's'} ${unknown.map((u) => JSON.stringify(u)).join(', ')}: allowed ${allowed.length ? allowed.join(', ') : 'none'}`);
  }
}

/** A whole number in [min, max]; `undefined` when absent and not required. */
export function intField(body: Body, name: string, range: { min: number; max: number }, required = false): number | undefined {
  const v = body[name];
  if (v === undefined) {
    if (required) throw new BadRequest(`"${name}" is required: a whole number from ${range.min} to ${range.max}`);
    return undefined;
  }
  if (typeof v !== 'number' || !Number.isInteger(v) || v < range.min || v > range.max) {
    throw new BadRequest(`"${name}" must be a whole number from ${range.min} to ${range.max}, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** A number in [min, max]; `undefined` when absent. */
export function numberField(body: Body, name: string, range: { min: number; max: number }): number | undefined {
  const v = body[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < range.min || v > range.max) {
    throw new BadRequest(`"${name}" must be a number from ${range.min} to ${range.max}, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** A boolean; `undefined` when absent. */
export function boolField(body: Body, name: string): boolean | undefined {
  const v = body[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw new BadRequest(`"${name}" must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

/** A list of stream entry ids (1..1000 of them); `undefined` when absent (meaning "all"). */
export function idsField(body: Body, name = 'ids'): string[] | undefined {
  const v = body[name];
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length === 0 || v.length > 1000) throw new BadRequest(`"${name}" must be a list of 1 to 1000 entry ids like "1700000000000-0" (or "high:1700000000000-0" in a priority lane), or absent for all`);
  const bad = v.filter((id) => typeof id !== 'string' || !ENTRY_ID.test(id));
  if (bad.length > 0) throw new BadRequest(`"${name}" has ids that are not stream ids (like "1700000000000-0"): ${bad.slice(0, 3).map((b) => JSON.stringify(b)).join(', ')}`);
  return v as string[];
}

/** An event id in a path: a stream id (with its lane outside the default one), or a delayed id as publish returns it. */
export function checkEventId(id: string): string {
  if (ENTRY_ID.test(id) || /^(?:[a-z][a-z0-9_-]{0,15}:)?delayed-[0-9a-f-]{36}$/.test(id)) return id;
  throw new BadRequest(`"${id}" is not an event id: ids look like 1700000000000-0 (high:1700000000000-0 in the high lane, or delayed-<uuid> for a delayed event)`);
}
