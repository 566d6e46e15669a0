import type { Command } from 'commander';
import { DELAYED_ID_PREFIX, lookupTopic, requireTopic, type GroupStatus } from '@streamfan/core/internal';
import { examples, type ActionFactory } from '../command-kit';
import { formatDuration } from '../format/duration';
import { laneEventId, laneOf } from '../format/ids';
import { formatPairs, formatTable, truncate } from '../format/table';
import { formatRelative, formatTime } from '../format/time';

/** `streamfan show <topic> <id>`: one event's payload, headers and status in every group. */
export function registerShow(program: Command, act: ActionFactory): void {
  program
    .command('show')
    .argument('<topic>', 'topic name')
    .argument(
      '<id>',
      'event id (e.g. 1700000000000-0, or a delayed-… id; p3:… on a partitioned topic, high:… in a priority lane)',
      laneEventId,
    )
    .description('show an event: payload, headers and its status in every group (state, attempts, result, error, times)')
    .addHelpText(
      'after',
      examples(
        'streamfan show user.signup 1700000000000-0',
        'streamfan show user.signup 1700000000000-0 --json',
        'streamfan show emails high:1700000000000-0',
      ),
    )
    .action(
      act(async (ctx, topic: string, id: string) => {
        const sf = ctx.sf();
        // A delayed event's topic may have no stream yet: showEvent looks in the delayed set.
        if (!id.startsWith(DELAYED_ID_PREFIX)) await requireTopic(sf, topic);
        const t = await lookupTopic(sf, topic);
        const ev = await sf.show(t, id);
        // A prioritized topic: the event's lane (core's `priority`, else from its id; a plain id is the default lane's).
        const lane = t.priorities ? ((ev as { priority?: string }).priority ?? laneOf(ev.id) ?? t.defaultPriority) : undefined;
        ctx.print(lane !== undefined && (ev as { priority?: string }).priority === undefined ? { ...ev, priority: lane } : ev, () => {
          const now = Date.now();
          const head = formatPairs([
            ['id', ev.id],
            ['topic', ev.topic],
            ...(ev.partition !== undefined ? [['partition', String(ev.partition)] as const] : []),
            ...(lane !== undefined ? [['lane', lane] as const] : []),
            ['published', formatTime(ev.publishedAt, now)],
            ...(ev.dueAt ? [['due', formatTime(ev.dueAt, now)] as const] : []),
            ['in stream', ev.inStream ? 'yes' : `no${ev.payloadFrom === 'deadLetters' ? ' (payload read from dead letters)' : ''}`],
            ['headers', Object.keys(ev.headers).length === 0 ? '{}' : JSON.stringify(ev.headers)],
            [
              'payload',
              ev.payload === null && ev.payloadFrom === null
                ? '(unavailable: trimmed)'
                : JSON.stringify(ev.payload, null, 2).replace(/\n/g, '\n  '),
            ],
          ]);
          const groups = Object.entries(ev.groups).sort(([a], [b]) => a.localeCompare(b));
          if (groups.length === 0) return `${head}\n\nno groups`;
          const table = formatTable<[string, GroupStatus]>(
            [
              { header: 'GROUP', value: ([g]) => g },
              { header: 'STATE', value: ([, s]) => s.state },
              { header: 'ATTEMPTS', value: ([, s]) => String(s.attempts), align: 'right' },
              { header: 'CONSUMER', value: ([, s]) => s.consumer ?? '-' },
              // A delivery in progress has no status write yet: its idle time says how long it has been held.
              {
                header: 'UPDATED',
                value: ([, s]) =>
                  s.updatedAt ? formatRelative(s.updatedAt, now) : s.idleMs !== undefined ? `idle ${formatDuration(s.idleMs)}` : '-',
              },
              { header: 'NEXT-ATTEMPT', value: ([, s]) => formatRelative(s.nextAttemptAt, now) },
              { header: 'DEAD-LETTER-ID', value: ([, s]) => s.deadLetterId ?? '-' },
              { header: 'RESULT / ERROR', value: ([, s]) => truncate(outcome(s), 70) },
            ],
            groups,
          );
          return `${head}\n\n${table}`;
        });
      }),
    );
}

/**
 * What the RESULT / ERROR column shows: a group that succeeded shows its result, even when an
 * earlier attempt failed (the status keeps that attempt's error, which `--json` still shows).
 */
function outcome(s: GroupStatus): string {
  const result = s.result !== undefined ? JSON.stringify(s.result) : undefined;
  if (s.state === 'succeeded') return result ?? '-';
  if (s.error) return `error: ${s.error}`;
  return result ?? '-';
}
