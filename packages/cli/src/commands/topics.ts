import type { Command } from 'commander';
import { examples, type ActionFactory } from '../command-kit';
import { formatTable } from '../format/table';

/** `streamfan topics`: every topic under the prefix. */
export function registerTopics(program: Command, act: ActionFactory): void {
  program
    .command('topics')
    .description(
      "list every topic under the prefix: length, first and last id, groups, delayed events; partitioned topics: their partition count (summed figures), each partition's length with --partitions",
    )
    .option('--partitions', "also list each partition of a partitioned topic (its stream's length) under the topic's row")
    .addHelpText('after', examples('streamfan topics', 'streamfan topics --partitions', 'streamfan topics --prefix myapp --json'))
    .action(
      act(async (ctx, cmdOpts: { partitions?: boolean }) => {
        const topics = await ctx.sf().topics();
        const partitioned = topics.some((t) => t.partitions !== undefined);
        // With --partitions, one row per partition under its topic (length only; ids stay per topic).
        const rows: Array<(typeof topics)[number] & { sub?: boolean }> = cmdOpts.partitions
          ? topics.flatMap((t) => [
              t,
              ...(t.partitionLengths ?? []).map((length, i) => ({
                topic: `  p${i}`,
                length,
                firstId: null,
                lastId: null,
                groups: t.groups,
                delayed: 0,
                sub: true,
              })),
            ])
          : topics;
        ctx.print({ prefix: ctx.opts.prefix, topics }, () =>
          topics.length === 0
            ? `no topics under prefix "${ctx.opts.prefix}"`
            : formatTable(
                [
                  { header: 'TOPIC', value: (t) => t.topic },
                  // Only when a partitioned topic is listed (the table of unpartitioned topics is unchanged).
                  ...(partitioned
                    ? [
                        {
                          header: 'PARTITIONS',
                          value: (t: (typeof rows)[number]) => (t.sub ? '' : t.partitions === undefined ? '-' : String(t.partitions)),
                          align: 'right' as const,
                        },
                      ]
                    : []),
                  { header: 'LENGTH', value: (t) => String(t.length), align: 'right' },
                  { header: 'FIRST-ID', value: (t) => (t.sub ? '' : (t.firstId ?? '-')) },
                  { header: 'LAST-ID', value: (t) => (t.sub ? '' : (t.lastId ?? '-')) },
                  { header: 'GROUPS', value: (t) => (t.sub ? '' : String(t.groups)), align: 'right' },
                  { header: 'DELAYED', value: (t) => (t.sub ? '' : String(t.delayed)), align: 'right' },
                ],
                rows,
              ),
        );
      }),
    );
}
