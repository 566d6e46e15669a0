import type { Command } from 'commander';
import { examples, type ActionFactory } from '../command-kit';
import { formatTable } from '../format/table';

/** `streamfan topics`: every topic under the prefix. */
export function registerTopics(program: Command, act: ActionFactory): void {
  program
    .command('topics')
    .description('list every topic under the prefix: length, first and last id, groups, delayed events')
    .addHelpText('after', examples('streamfan topics', 'streamfan topics --prefix myapp --json'))
    .action(
      act(async (ctx) => {
        const topics = await ctx.sf().topics();
        ctx.print({ prefix: ctx.opts.prefix, topics }, () =>
          topics.length === 0
            ? `no topics under prefix "${ctx.opts.prefix}"`
            : formatTable(
                [
                  { header: 'TOPIC', value: (t) => t.topic },
                  { header: 'LENGTH', value: (t) => String(t.length), align: 'right' },
                  { header: 'FIRST-ID', value: (t) => t.firstId ?? '-' },
                  { header: 'LAST-ID', value: (t) => t.lastId ?? '-' },
                  { header: 'GROUPS', value: (t) => String(t.groups), align: 'right' },
                  { header: 'DELAYED', value: (t) => String(t.delayed), align: 'right' },
                ],
                topics,
              ),
        );
      }),
    );
}
