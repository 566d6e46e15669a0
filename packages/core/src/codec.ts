import { InvalidPayloadError } from './errors';

/**
 * Turns payloads into the string stored in the stream entry and back. Plug your own into
 * {@link defineTopic} (for example a schema-validating or compressing one, base64 for binary).
 */
export interface Codec<T> {
  /** Encode a payload; throw {@link InvalidPayloadError} for a value it cannot represent. */
  encode(value: T): string;
  /** Decode what {@link Codec.encode} produced; throw for malformed data. */
  decode(data: string): T;
}

function where(path: string): string {
  return path === '' ? 'the payload' : `payload${path}`;
}

/** Throws when JSON.stringify would drop, alter or choke on part of `value`. */
export function assertJsonSafe(value: unknown, path = '', seen: Set<object> = new Set()): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) throw new InvalidPayloadError(`${where(path)} is ${value}, which JSON cannot represent: send null or a string instead`);
      return;
    case 'undefined':
      throw new InvalidPayloadError(`${where(path)} is undefined, which JSON cannot represent: use null or leave the property out`);
    case 'bigint':
      throw new InvalidPayloadError(`${where(path)} is a BigInt, which JSON cannot represent: send it as a string`);
    case 'function':
    case 'symbol':
      throw new InvalidPayloadError(`${where(path)} is a ${typeof value}, which JSON cannot represent: send data only`);
    default:
      break;
  }
  if (value === null) return;
  const obj = value as object;
  if (seen.has(obj)) throw new InvalidPayloadError(`${where(path)} refers back to itself (a cycle), which JSON cannot represent: replace the back-reference with an id`);
  if (typeof (obj as { toJSON?: unknown }).toJSON === 'function') return;
  if (obj instanceof Map || obj instanceof Set || obj instanceof WeakMap || obj instanceof WeakSet) {
    throw new InvalidPayloadError(`${where(path)} is a ${obj.constructor.name}, which JSON turns into {}: convert it to an array or plain object`);
  }
  if (ArrayBuffer.isView(obj) || obj instanceof ArrayBuffer) {
    throw new InvalidPayloadError(`${where(path)} is binary data, which JSON cannot represent faithfully: encode it as base64 or use a custom codec`);
  }
  seen.add(obj);
  if (Array.isArray(obj)) {
    obj.forEach((item, i) => assertJsonSafe(item, `${path}[${i}]`, seen));
  } else {
    for (const [k, v] of Object.entries(obj)) {
      if (v === undefined) continue; // dropped by JSON, as users of JSON expect
      assertJsonSafe(v, `${path}.${k}`, seen);
    }
  }
  seen.delete(obj);
}

/** The default codec: strict JSON (refuses NaN, undefined, BigInt, cycles, Maps, functions). */
export function jsonCodec<T>(): Codec<T> {
  return {
    encode(value: T): string {
      assertJsonSafe(value);
      return JSON.stringify(value);
    },
    decode(data: string): T {
      return JSON.parse(data) as T;
    },
  };
}
