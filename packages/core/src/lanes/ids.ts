/**
 * Lane names and public event ids of prioritized topics (docs/priorities.md §1, §3). The key
 * builders live in keys.ts (one module builds every key).
 */
import { InvalidOptionError } from '../errors';
import { LANE_NAME, MAX_LANES } from '../keys';
import { InvalidLaneIdError } from './errors';

/** A topic's lanes as checked by {@link validateLanes}. */
export interface LaneSet {
  /** Lane names, highest first. */
  readonly lanes: readonly string[];
  /** The lane of a publish without `priority`. */
  readonly defaultLane: string;
}

/**
 * Check `priorities` and `defaultPriority` of `defineTopic`: 2–8 unique names matching
 * `/^[a-z][a-z0-9_-]{0,15}$/`, none `p<digits>`; the default one of them (default: 'normal'
 * when declared, else the last lane).
 * @throws InvalidOptionError saying what is wrong
 */
export function validateLanes(priorities: unknown, defaultPriority: unknown): LaneSet {
  if (!Array.isArray(priorities) || priorities.length < 2 || priorities.length > MAX_LANES) {
    throw new InvalidOptionError(`priorities must be an array of 2 to ${MAX_LANES} lane names, highest first (e.g. ['high', 'normal', 'low']), got ${JSON.stringify(priorities) ?? String(priorities)}`);
  }
  const seen = new Set<string>();
  for (const l of priorities) {
    if (typeof l !== 'string' || !LANE_NAME.test(l) || /^p\d+$/.test(l)) {
      throw new InvalidOptionError(`priority lane ${JSON.stringify(l)} is not a valid lane name: use 1–16 characters of a-z, 0-9, _ and -, starting with a letter, and not p<digits> (that looks like a partition id)`);
    }
    if (seen.has(l)) throw new InvalidOptionError(`priority lane '${l}' is declared twice in [${priorities.join(', ')}]: each lane once, highest first`);
    seen.add(l);
  }
  const lanes = Object.freeze([...(priorities as string[])]);
  const def = defaultPriority === undefined ? (seen.has('normal') ? 'normal' : lanes[lanes.length - 1]!) : defaultPriority;
  if (typeof def !== 'string' || !seen.has(def)) {
    throw new InvalidOptionError(`defaultPriority must be one of the topic's priorities [${lanes.join(', ')}], got ${JSON.stringify(def) ?? String(def)}`);
  }
  return { lanes, defaultLane: def };
}

const LANE_ID = /^([a-z][a-z0-9_-]{0,15}):(\d{1,20}-\d{1,20}|delayed-[0-9A-Za-z-]{1,64})$/;

/** True when `id` has the form of a lane id (`<lane>:<stream id>` or `<lane>:delayed-<uuid>`). */
export function isLaneId(id: string): boolean {
  return typeof id === 'string' && LANE_ID.test(id);
}

/**
 * The public id of an event of lane `lane`: the local id itself for the default lane (so a
 * topic that gains lanes keeps its ids), else `<lane>:<local id>` (e.g. `high:1733100000000-0`).
 */
export function formatLaneId(lane: string, localId: string, defaultLane: string): string {
  return lane === defaultLane ? localId : `${lane}:${localId}`;
}

/**
 * Split a prioritized topic's public id into its lane and the id inside the lane's stream. A
 * plain id (`1733100000000-0`, `delayed-<uuid>`) is the default lane's, as is
 * `<defaultLane>:<id>`.
 * @throws InvalidLaneIdError (an InvalidIdError) for anything else, or for a lane the topic does not have
 */
export function parseLaneId(id: string, topic: { name: string; priorities?: readonly string[]; defaultPriority?: string }): { lane: string; localId: string } {
  const lanes = topic.priorities ?? [];
  const def = topic.defaultPriority ?? '';
  if (typeof id === 'string' && (/^\d{1,20}-\d{1,20}$/.test(id) || /^delayed-[0-9A-Za-z-]{1,64}$/.test(id))) return { lane: def, localId: id };
  const m = typeof id === 'string' ? LANE_ID.exec(id) : null;
  if (!m || !lanes.includes(m[1]!)) throw new InvalidLaneIdError(id, topic.name, lanes, def);
  return { lane: m[1]!, localId: m[2]! };
}
