import type { Command } from 'commander';
import {
  formatLaneId,
  laneKeys,
  lookupTopic,
  requireTopic,
  type LaneGroupRow,
  type PartitionedGroupInfo,
  type Streamfan,
  type Topic,
} from '@streamfan/core/internal';
import { examples, type ActionFactory } from '../command-kit';
import { formatDuration } from '../format/duration';
import { laneBacklog, laneBacklogs } from '../format/lanes';
import { formatTable } from '../format/table';
import { idDate } from '../format/time';

/** `streamfan groups <topic>`: the consumer groups of a topic. */
export function registerGroups(program: Command, act: ActionFactory): void {
  program
    .command('groups')
    .argument('<topic>', 'topic name')
    .description(
      'list the groups of a topic: consumers, pending, lag, last-delivered id, oldest pending age, retrying, dead letters (summed over the partitions of a partitioned topic, over the lanes of a prioritized one, with the backlog of each lane)',
    )
    .option('--partitions', 'partitioned topics: also one row per group and partition (lease owner, token, pending, lag)')
    .option('--lanes', 'prioritized topics: also one row per group and lane (lag, pending, retrying, dead letters, length)')
    .addHelpText(
      'after',
      examples(
        'streamfan groups user.signup',
        'streamfan groups user.signup --json',
        'streamfan groups orders --partitions',
        'streamfan groups emails --lanes',
      ),
    )
    .action(
      act(async (ctx, topic: string, opts: { partitions?: boolean; lanes?: boolean }) => {
        const sf = ctx.sf();
        await requireTopic(sf, topic);
        const t = await lookupTopic(sf, topic);
        const now = Date.now();
        const delivered = t.priorities ? await laneDeliveries(sf, t) : undefined;
        const groups = (await sf.groups(t)).map((g) => ({
          ...g,
          ...(delivered ? withLaneDeliveries(g, delivered, t) : {}),
          oldestPendingAgeMs: g.oldestPendingId ? Math.max(0, now - idDate(g.oldestPendingId).getTime()) : null,
        }));
        const laned = groups.some((g) => laneRows(g).length > 0);
        const lanes = laned ? (t.priorities ?? [...new Set(groups.flatMap((g) => laneRows(g).map((l) => l.lane)))]) : undefined;
        ctx.print(
          { topic, ...(t.partitions !== undefined ? { partitions: t.partitions } : {}), ...(lanes ? { lanes } : {}), groups },
          () =>
            groups.length === 0
              ? `topic "${topic}" has no groups yet (a group is created by its first subscribe)`
              : formatTable(
                  [
                    { header: 'GROUP', value: (g) => (g.retired ? `${g.group} (retired)` : g.group) },
                    { header: 'CONSUMERS', value: (g) => String(g.consumers), align: 'right' },
                    { header: 'PENDING', value: (g) => String(g.pending), align: 'right' },
                    {
                      header: 'LAG',
                      value: (g) => (g.retired ? '-' : g.lag === null ? '?' : g.lagIsLowerBound ? `≥${g.lag}` : String(g.lag)),
                      align: 'right',
                    },
                    { header: 'LAST-DELIVERED', value: (g) => g.lastDeliveredId },
                    { header: 'OLDEST-PENDING', value: (g) => formatDuration(g.oldestPendingAgeMs), align: 'right' },
                    { header: 'RETRYING', value: (g) => String(g.retrying), align: 'right' },
                    { header: 'DEAD', value: (g) => String(g.deadLetters), align: 'right' },
                    // Prioritized topics: each lane's backlog (lag + pending), highest lane first.
                    ...(laned
                      ? [
                          {
                            header: 'BACKLOG BY LANE',
                            value: (g: (typeof groups)[number]) => (g.retired ? '-' : laneBacklogs(laneRows(g))),
                          },
                        ]
                      : []),
                  ],
                  groups,
                ) +
                (laned && opts.lanes ? laneLines(groups) : '') +
                (t.partitions !== undefined
                  ? partitionLines(t.partitions, groups as unknown as PartitionedGroupInfo[], opts.partitions === true)
                  : ''),
        );
      }),
    );
}

/** A partitioned topic: unowned partitions per group, and with --partitions one row per group and partition. */
function partitionLines(partitions: number, groups: PartitionedGroupInfo[], perPartition: boolean): string {
  const unowned = groups.filter((g) => !g.retired && g.unowned.length > 0);
  let out = `\n\n${partitions} partitions; ${
    unowned.length === 0
      ? 'every partition of every group is held by a live consumer'
      : unowned.map((g) => `${g.group}: partition ${g.unowned.join(', ')} not held`).join('; ')
  }`;
  if (perPartition) {
    const rows = groups.flatMap((g) => (g.partitions ?? []).map((r) => ({ ...r, group: g.group, held: !g.unowned.includes(r.partition) })));
    out +=
      '\n\n' +
      formatTable(
        [
          { header: 'GROUP', value: (r) => r.group },
          { header: 'PARTITION', value: (r) => String(r.partition), align: 'right' },
          { header: 'OWNER', value: (r) => (r.held && r.owner ? r.owner : '(none)') },
          { header: 'TOKEN', value: (r) => String(r.token), align: 'right' },
          { header: 'PENDING', value: (r) => String(r.pending), align: 'right' },
          { header: 'LAG', value: (r) => (r.lag === null ? '?' : String(r.lag)), align: 'right' },
          { header: 'RETRYING', value: (r) => String(r.retrying), align: 'right' },
          { header: 'DEAD', value: (r) => String(r.deadLetters), align: 'right' },
        ],
        rows,
      );
  }
  return out;
}

function laneRows(g: { lanes?: LaneGroupRow[] }): LaneGroupRow[] {
  return g.lanes ?? [];
}

/** --lanes: one row per group and lane. */
function laneLines(groups: ReadonlyArray<{ group: string; retired?: true; lanes?: LaneGroupRow[] }>): string {
  const rows = groups.filter((g) => !g.retired).flatMap((g) => laneRows(g).map((l) => ({ ...l, group: g.group })));
  return (
    '\n\n' +
    formatTable(
      [
        { header: 'GROUP', value: (r) => r.group },
        { header: 'LANE', value: (r) => r.lane },
        { header: 'LAG', value: (r) => (r.lag === null ? '?' : `${r.lagIsLowerBound ? '≥' : ''}${r.lag}`), align: 'right' },
        { header: 'PENDING', value: (r) => String(r.pending), align: 'right' },
        { header: 'BACKLOG', value: (r) => laneBacklog(r), align: 'right' },
        { header: 'RETRYING', value: (r) => String(r.retrying), align: 'right' },
        { header: 'DEAD', value: (r) => String(r.deadLetters), align: 'right' },
        { header: 'LENGTH', value: (r) => String(r.length), align: 'right' },
        { header: 'LAST-DELIVERED', value: (r) => (r as { lastDeliveredId?: string }).lastDeliveredId ?? '-' },
      ],
      rows,
    )
  );
}

/** Per lane (highest first), each group's last delivered id in the lane stream (XINFO GROUPS; 0-0 for a lane without the group). */
async function laneDeliveries(sf: Streamfan, t: Topic<unknown>): Promise<Map<string, Map<string, string>>> {
  const out = new Map<string, Map<string, string>>();
  for (const lane of t.priorities!) {
    const rows =
      (await (sf.redis.xinfo('GROUPS', laneKeys(sf.prefix, t.name, lane, t.defaultPriority!).stream) as Promise<unknown[][]>).catch(
        () => [],
      )) ?? [];
    const byGroup = new Map<string, string>();
    for (const row of rows) {
      const o: Record<string, unknown> = {};
      for (let i = 0; i + 1 < row.length; i += 2) o[String(row[i])] = row[i + 1];
      byGroup.set(String(o.name), String(o['last-delivered-id'] ?? '0-0'));
    }
    out.set(lane, byGroup);
  }
  return out;
}

const idOrder = (id: string): [bigint, bigint] => {
  const [ms = '0', seq = '0'] = id.split('-');
  return [BigInt(ms), BigInt(seq)];
};

/**
 * A group of a prioritized topic with its delivery position: each lane row's last delivered id
 * (a lane id), and the group's `lastDeliveredId` the furthest of them (the latest event any lane
 * delivered; core's figure is the default lane's, 0-0 when that lane is empty).
 */
function withLaneDeliveries(
  g: { group: string; lanes?: LaneGroupRow[] },
  delivered: Map<string, Map<string, string>>,
  t: Topic<unknown>,
): { lastDeliveredId: string; lanes?: Array<LaneGroupRow & { lastDeliveredId: string }> } {
  let furthest: { lane: string; id: string } | undefined;
  for (const [lane, byGroup] of delivered) {
    const id = byGroup.get(g.group);
    if (id === undefined || id === '0-0') continue;
    const [a, b] = idOrder(id);
    const [c, d] = furthest ? idOrder(furthest.id) : [-1n, -1n];
    if (a > c || (a === c && b > d)) furthest = { lane, id };
  }
  const pub = (lane: string, id: string) => (id === '0-0' ? id : formatLaneId(lane, id, t.defaultPriority!));
  return {
    lastDeliveredId: furthest ? pub(furthest.lane, furthest.id) : '0-0',
    ...(g.lanes
      ? { lanes: g.lanes.map((l) => ({ ...l, lastDeliveredId: pub(l.lane, delivered.get(l.lane)?.get(g.group) ?? '0-0') })) }
      : {}),
  };
}
