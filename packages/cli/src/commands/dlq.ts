import type { Command } from 'commander';
import { NotFoundError, lookupTopic, releaseHeldKey, requireGroup, type DeadLetter } from '@streamfan/core/internal';
import { examples, positiveInt, type ActionFactory } from '../command-kit';
import { UsageError } from '../errors';
import { isEntryId, laneEntryId, laneOf } from '../format/ids';
import { formatPairs, formatTable, truncate } from '../format/table';
import { formatRelative, formatTime } from '../format/time';

// Dead-letter ids: a partitioned topic's carry their partition (p3:1700000000000-0), a prioritized
// topic's their lane outside the default one (high:1700000000000-0): see isEntryId.

function selection(ids: string[], all: boolean | undefined, verb: string): string[] | undefined {
  if (ids.length > 0 && all) throw new UsageError(`give dead-letter ids or --all, not both`);
  if (ids.length === 0 && !all)
    throw new UsageError(`say which dead letters to ${verb}: give their ids (see \`streamfan dlq list\`) or --all`);
  const bad = ids.filter((id) => !isEntryId(id));
  if (bad.length > 0)
    throw new UsageError(`${bad.join(', ')}: not a dead-letter id; ids look like 1700000000000-0 (see \`streamfan dlq list\`)`);
  return ids.length > 0 ? ids : undefined;
}

/** `streamfan dlq list|show|replay|purge <topic> <group>`: a group's dead letters. */
export function registerDlq(program: Command, act: ActionFactory): void {
  const dlq = program
    .command('dlq')
    .description("a group's dead letters: list, show, replay (to that group only), purge")
    .addHelpText('after', examples('streamfan dlq list user.signup email', 'streamfan dlq replay user.signup email --all'));

  dlq
    .command('list')
    .argument('<topic>', 'topic name')
    .argument('<group>', 'group name')
    .option('--limit <n>', 'at most this many, oldest first', positiveInt, 100)
    .option('--after <deadLetterId>', 'start after this dead-letter id (the next page)', laneEntryId)
    .description('list dead letters: dead-letter id, event id, reason, attempts, error')
    .addHelpText('after', examples('streamfan dlq list user.signup email', 'streamfan dlq list user.signup email --json --limit 1000'))
    .action(
      act(async (ctx, topic: string, group: string, opts: { limit: number; after?: string }) => {
        const sf = ctx.sf();
        await requireGroup(sf, topic, group, { allowRetired: true });
        // A partitioned topic: every partition, merged by dead-letter id; ids p<i>:…; a prioritized topic: every lane, ids <lane>:…
        const t = await lookupTopic(sf, topic);
        const box = sf.deadLetters(t, group);
        const [rows, total] = await Promise.all([box.list({ start: opts.after ? `(${opts.after}` : '-', count: opts.limit }), box.count()]);
        ctx.print({ topic, group, total, deadLetters: rows }, () => {
          if (rows.length === 0) return `no dead letters in group "${group}" of topic "${topic}"${opts.after ? ' after that id' : ''}`;
          const now = Date.now();
          return (
            formatTable<DeadLetter>(
              [
                { header: 'DEAD-LETTER-ID', value: (d) => d.deadLetterId },
                { header: 'EVENT-ID', value: (d) => d.id },
                ...(t.priorities
                  ? [
                      {
                        header: 'LANE',
                        value: (d: DeadLetter) =>
                          (d as { priority?: string }).priority ?? laneOf(d.deadLetterId) ?? t.defaultPriority ?? '-',
                      },
                    ]
                  : []),
                { header: 'REASON', value: (d) => d.reason },
                { header: 'ATTEMPTS', value: (d) => String(d.attempts), align: 'right' },
                { header: 'DIED', value: (d) => formatRelative(d.deadAt, now) },
                { header: 'CONSUMER', value: (d) => d.consumer },
                { header: 'ERROR', value: (d) => truncate(d.error, 60) },
              ],
              rows,
            ) + (total > rows.length ? `\n${rows.length} of ${total} shown; next: --after ${rows[rows.length - 1]!.deadLetterId}` : '')
          );
        });
      }),
    );

  dlq
    .command('show')
    .argument('<topic>', 'topic name')
    .argument('<group>', 'group name')
    .argument('<deadLetterId>', 'dead-letter id (see `streamfan dlq list`; high:… in a priority lane)')
    .description('show one dead letter: payload, headers, error, attempts')
    .addHelpText('after', examples('streamfan dlq show user.signup email 1700000000000-0'))
    .action(
      act(async (ctx, topic: string, group: string, id: string) => {
        if (!isEntryId(id))
          throw new UsageError(`${id}: not a dead-letter id; ids look like 1700000000000-0 (see \`streamfan dlq list ${topic} ${group}\`)`);
        const sf = ctx.sf();
        await requireGroup(sf, topic, group, { allowRetired: true });
        const t = await lookupTopic(sf, topic);
        const [d] = await sf.deadLetters(t, group).list({ start: id, count: 1 });
        if (!d || d.deadLetterId !== id)
          throw new NotFoundError(
            `no dead letter ${id} in group "${group}" of topic "${topic}": list them with \`streamfan dlq list ${topic} ${group}\``,
          );
        ctx.print(d, () =>
          formatPairs([
            ['dead-letter id', d.deadLetterId],
            ['event id', d.id],
            ...(t.priorities
              ? [['lane', (d as { priority?: string }).priority ?? laneOf(d.deadLetterId) ?? t.defaultPriority ?? '-'] as const]
              : []),
            ['reason', d.reason],
            ['attempts', String(d.attempts)],
            ['consumer', d.consumer],
            ['died', formatTime(d.deadAt)],
            ['error', d.error],
            ['headers', JSON.stringify(d.headers)],
            ['payload', d.raw !== undefined ? `(malformed) ${d.raw}` : JSON.stringify(d.payload, null, 2).replace(/\n/g, '\n  ')],
          ]),
        );
      }),
    );

  dlq
    .command('replay')
    .argument('<topic>', 'topic name')
    .argument('<group>', 'group name')
    .argument('[ids...]', 'dead-letter ids to replay')
    .option('--all', 'replay every dead letter of the group')
    .description('deliver dead letters again, to this group only, with attempts reset')
    .addHelpText(
      'after',
      examples(
        'streamfan dlq replay user.signup email 1700000000000-0',
        'streamfan dlq replay emails sender high:1700000000000-0',
        'streamfan dlq replay user.signup email --all',
      ),
    )
    .action(
      act(async (ctx, topic: string, group: string, ids: string[], opts: { all?: boolean }) => {
        const sel = selection(ids, opts.all, 'replay');
        const sf = ctx.sf();
        await requireGroup(sf, topic, group);
        const replayed = await sf.deadLetters(await lookupTopic(sf, topic), group).replay(sel ? { ids: sel } : { all: true });
        ctx.print(
          { topic, group, replayed, requested: sel?.length ?? null },
          () => `replayed ${replayed} dead letter${replayed === 1 ? '' : 's'} to group "${group}"`,
        );
        if (sel && replayed < sel.length) {
          throw new NotFoundError(
            `${sel.length - replayed} of the ${sel.length} ids given are not replayable dead letters of group "${group}" (not found, or malformed with no payload): see \`streamfan dlq list ${topic} ${group}\``,
          );
        }
      }),
    );

  dlq
    .command('purge')
    .argument('<topic>', 'topic name')
    .argument('<group>', 'group name')
    .argument('[ids...]', 'dead-letter ids to delete')
    .option('--all', 'delete every dead letter of the group')
    .option('-y, --yes', 'do not ask for confirmation')
    .description('delete dead letters for good')
    .addHelpText(
      'after',
      examples('streamfan dlq purge user.signup email 1700000000000-0', 'streamfan dlq purge user.signup email --all --yes'),
    )
    .action(
      act(async (ctx, topic: string, group: string, ids: string[], opts: { all?: boolean; yes?: boolean }) => {
        const sel = selection(ids, opts.all, 'purge');
        const sf = ctx.sf();
        await requireGroup(sf, topic, group, { allowRetired: true });
        await ctx.confirm(
          `delete ${sel ? sel.length : 'every'} dead letter${sel?.length === 1 ? '' : 's'} of group "${group}" in topic "${topic}" for good`,
          opts.yes,
        );
        const purged = await sf.deadLetters(await lookupTopic(sf, topic), group).purge(sel ? { ids: sel } : { all: true });
        ctx.print(
          { topic, group, purged, requested: sel?.length ?? null },
          () => `deleted ${purged} dead letter${purged === 1 ? '' : 's'} of group "${group}"`,
        );
        if (sel && purged < sel.length) {
          throw new NotFoundError(
            `${sel.length - purged} of the ${sel.length} ids given are not dead letters of group "${group}": see \`streamfan dlq list ${topic} ${group}\``,
          );
        }
      }),
    );

  dlq
    .command('release')
    .argument('<topic>', 'a partitioned topic')
    .argument('<group>', "an ordered group with afterDeadLetter 'hold'")
    .argument('<key>', 'the key to release')
    .description(
      "afterDeadLetter 'hold': let a key's parked events run again (in order) without replaying or purging the dead letter that parked it",
    )
    .addHelpText('after', examples('streamfan dlq release orders billing order-42'))
    .action(
      act(async (ctx, topic: string, group: string, key: string) => {
        const sf = ctx.sf();
        await requireGroup(sf, topic, group);
        const t = await lookupTopic(sf, topic);
        if (t.partitions === undefined)
          throw new UsageError(`topic "${topic}" is not partitioned: keys are parked only in ordered groups of partitioned topics`);
        const released = await releaseHeldKey(sf.redis, sf.prefix, t, group, key);
        ctx.print({ topic, group, key, released }, () =>
          released
            ? `released key ${JSON.stringify(key)} of group "${group}": its parked events run now, in order`
            : `key ${JSON.stringify(key)} of group "${group}" is not parked`,
        );
      }),
    );
}
