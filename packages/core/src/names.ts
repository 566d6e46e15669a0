import { InvalidNameError } from './errors';

const TOPIC_RE = /^[A-Za-z0-9][A-Za-z0-9._:/-]*$/;
const GROUP_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Longest topic name accepted. */
export const MAX_TOPIC_LENGTH = 128;
/** Longest group or consumer name accepted. */
export const MAX_GROUP_LENGTH = 64;

function describe(value: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) return 'it contains a control character';
  if (/\s/.test(value)) return 'it contains white space';
  if (/[{}]/.test(value)) return 'it contains a brace ({ or }), which would break the Redis Cluster hash tag';
  return 'it contains a character outside the allowed set';
}

function check(kind: string, value: unknown, re: RegExp, max: number, allowed: string): string {
  if (typeof value !== 'string') throw new InvalidNameError(`${kind} name must be a string, got ${typeof value}`);
  if (value.length === 0) throw new InvalidNameError(`${kind} name is empty: give a name such as "user.signup"`);
  if (value.length > max) throw new InvalidNameError(`${kind} name is ${value.length} characters, over the limit of ${max}: use a shorter name`);
  if (!re.test(value)) {
    throw new InvalidNameError(`${kind} name ${JSON.stringify(value)} is not valid: ${describe(value)}. Use ${allowed}, starting with a letter or digit`);
  }
  return value;
}

/** Validate a topic name: 1–128 of letters, digits and `. _ : / -`. */
export function validateTopicName(name: unknown): string {
  return check('topic', name, TOPIC_RE, MAX_TOPIC_LENGTH, 'letters, digits and . _ : / -');
}

/** Validate a consumer group name: 1–64 of letters, digits and `. _ -`. */
export function validateGroupName(name: unknown): string {
  return check('group', name, GROUP_RE, MAX_GROUP_LENGTH, 'letters, digits and . _ -');
}

/** Validate a consumer name: 1–64 of letters, digits and `. _ -`. */
export function validateConsumerName(name: unknown): string {
  return check('consumer', name, GROUP_RE, MAX_GROUP_LENGTH, 'letters, digits and . _ -');
}

/** Validate a key prefix: 1–64 of letters, digits and `. _ : -`. */
export function validatePrefix(prefix: unknown): string {
  return check('prefix', prefix, /^[A-Za-z0-9][A-Za-z0-9._:-]*$/, 64, 'letters, digits and . _ : -');
}
