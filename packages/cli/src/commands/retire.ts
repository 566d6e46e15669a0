import type { Command } from 'commander';
import { NotFoundError, lookupTopic, requireTopic, retiredGroups, validateGroupName, validateTopicName } from '@streamfan/core/internal';
import { examples, type ActionFactory } from '../command-kit';
import { formatPairs } from '../format/table';
import { formatTime } from '../format/time';

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/**
 * A partitioned topic's report (retired on every partition): how many, and which were already
 * retired before this call (a retirement cut short, now finished, or a repeat).
 */
function partitionsRow(rows: Array<{ partition: number; alreadyRetired: boolean }> | undefined): Array<[string, string]> {
  if (!rows) return [];
  const before = rows.filter((r) => r.alreadyRetired).map((r) => `p${r.partition}`);
  return [['partitions', `${rows.length}${before.length > 0 ? ` (${before.join(' ')}: already retired)` : ''}`]];
}

/** `streamfan retire <topic> <group>` and `streamfan unretire <topic> <group>`: retire a group for good, or undo it. */
export function registerRetire(program: Command, act: ActionFactory): void {
  program
    .command('retire')
    .argument('<topic>', 'topic name')
    .argument('<group>', 'group name')
    .option('--delete-dead-letters', "delete the group's dead letters too (kept by default)")
    .option('-y, --yes', 'do not ask for confirmation')
    .description(
      'retire a group for good (the service is gone): destroy it with its pending entries and retries, and never recreate it; its running consumers stop. Undo with `streamfan unretire`',
    )
    .addHelpText(
      'after',
      examples(
        'streamfan retire user.signup legacy-mailer',
        'streamfan retire user.signup legacy-mailer --delete-dead-letters --yes --json',
      ),
    )
    .action(
      act(async (ctx, topic: string, group: string, opts: { deleteDeadLetters?: boolean; yes?: boolean }) => {
        validateTopicName(topic);
        validateGroupName(group);
        const sf = ctx.sf();
        await requireTopic(sf, topic);
        // As Redis knows the topic: a prioritized topic's groups are counted over every lane, a
        // partitioned topic's over every partition (retireGroup retires them in each).
        const groups = await sf.groups(await lookupTopic(sf, topic));
        const row = groups.find((g) => g.group === group);
        if (!row) {
          const names = groups.map((g) => g.group).sort();
          throw new NotFoundError(
            `group "${group}" not found in topic "${topic}"; ${names.length === 0 ? 'there are no groups' : `groups: ${names.join(', ')}`}`,
          );
        }
        // Retiring a retired group again changes nothing, unless it now deletes the dead letters.
        if (!row.retired || (opts.deleteDeadLetters && row.deadLetters > 0)) {
          const what = [plural(row.pending, 'pending entry', 'pending entries'), plural(row.retrying, 'retry', 'retries')];
          if (opts.deleteDeadLetters) what.push(plural(row.deadLetters, 'dead letter', 'dead letters'));
          await ctx.confirm(
            `retire group "${group}" of topic "${topic}" for good (drops ${what.join(', ')}${row.consumers > 0 ? `; ${plural(row.consumers, 'running consumer stops', 'running consumers stop')}` : ''})`,
            opts.yes,
          );
        }
        const report = await sf.retireGroup(topic, group, { deleteDeadLetters: opts.deleteDeadLetters === true });
        ctx.print(report, () =>
          [
            report.alreadyRetired
              ? `group "${group}" of topic "${topic}" was already retired`
              : `retired group "${group}" of topic "${topic}"`,
            formatPairs([
              ['retired at', formatTime(report.retiredAt)],
              ['consumers', String(report.consumers)],
              ['pending dropped', String(report.pending)],
              ['retries dropped', String(report.retrying)],
              ['dead letters', `${report.deadLetters} ${report.deadLettersDeleted ? 'deleted' : 'kept'}`],
              ...partitionsRow(report.partitions),
            ]),
            `undo: streamfan unretire ${topic} ${group} (the next subscribe then creates the group at its startFrom)`,
          ].join('\n'),
        );
      }),
    );

  program
    .command('unretire')
    .argument('<topic>', 'topic name')
    .argument('<group>', 'a retired group')
    .description("take a group off the topic's retired list: the next subscribe creates it again (at its startFrom)")
    .addHelpText('after', examples('streamfan unretire user.signup legacy-mailer'))
    .action(
      act(async (ctx, topic: string, group: string) => {
        validateTopicName(topic);
        validateGroupName(group);
        const sf = ctx.sf();
        const retired = [...(await retiredGroups(sf, topic)).keys()].sort();
        if (!(await sf.unretireGroup(topic, group))) {
          throw new NotFoundError(
            `group "${group}" is not retired in topic "${topic}"; nothing changed (${retired.length === 0 ? 'no group is retired' : `retired groups: ${retired.join(', ')}`})`,
          );
        }
        ctx.print(
          { topic, group, unretired: true },
          () => `group "${group}" of topic "${topic}" is no longer retired: the next subscribe creates it at its startFrom`,
        );
      }),
    );
}
