/**
 * Priority lanes (docs/priorities.md) in tables: a prioritized topic's lanes, and a group's
 * backlog per lane.
 */

/** `high,normal*,low`: the lanes, highest first, the default lane marked `*`; `-` for a topic without lanes. */
export function laneSummary(lanes: readonly string[] | undefined, defaultLane?: string): string {
  if (!lanes || lanes.length === 0) return '-';
  return lanes.map((l) => (l === defaultLane ? `${l}*` : l)).join(',');
}

/** One lane of a group, as core's `groups()` rows carry them. */
export interface LaneBacklog {
  lane: string;
  lag: number | null;
  pending: number;
  lagIsLowerBound?: boolean;
}

/** A lane's backlog: not yet delivered (lag) plus delivered and not acknowledged (pending); `?` when the lag is unknown. */
export function laneBacklog(l: LaneBacklog): string {
  if (l.lag === null) return '?';
  return `${l.lagIsLowerBound ? '≥' : ''}${l.lag + l.pending}`;
}

/** `high=0 normal=12 low=9000`: a group's backlog (lag + pending) in each lane, highest first; `-` without lanes. */
export function laneBacklogs(lanes: readonly LaneBacklog[] | undefined): string {
  if (!lanes || lanes.length === 0) return '-';
  return lanes.map((l) => `${l.lane}=${laneBacklog(l)}`).join(' ');
}
