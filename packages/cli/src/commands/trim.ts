import type { Command } from 'commander';
import { lookupTopic, requireTopic } from '@streamfan/core/internal';
import { examples, type ActionFactory } from '../command-kit';
import { formatPairs } from '../format/table';

/** `streamfan trim <topic> [--dry-run]`: safe retention now. */
export function registerTrim(program: Command, act: ActionFactory): void {
  program
    .command('trim')
    .argument('<topic>', 'topic name')
    .option('--dry-run', 'only say what would be removed')
    .option('--approximate', 'trim whole macro nodes only (cheaper, may keep a few more entries)')
    .description('remove entries every group has acknowledged (never undelivered work); --dry-run says how many first')
    .addHelpText('after', examples('streamfan trim user.signup --dry-run', 'streamfan trim user.signup'))
    .action(
      act(async (ctx, topic: string, opts: { dryRun?: boolean; approximate?: boolean }) => {
        const sf = ctx.sf();
        await requireTopic(sf, topic);
        // As Redis knows the topic: every lane of a prioritized topic, every partition of a partitioned one.
        const t = await lookupTopic(sf, topic);
        const report = await sf.trim(t, { dryRun: opts.dryRun === true, approximate: opts.approximate === true });
        const lanes = (report as { lanes?: Array<{ lane: string; removed: number }> }).lanes;
        const parts = (report as { partitions?: Array<{ partition: number; removed: number }> }).partitions;
        ctx.print(report, () =>
          formatPairs([
            ['topic', topic],
            [
              report.dryRun ? 'would remove' : 'removed',
              `${report.removed} entr${report.removed === 1 ? 'y' : 'ies'} every group has acknowledged`,
            ],
            [report.dryRun ? 'would remove (redelivery)' : 'removed (redelivery)', String(report.redeliveryRemoved)],
            ['kept from', report.safeMinId === '' ? '(no groups: nothing is trimmed)' : report.safeMinId],
            ['length after', String(report.length)],
            ['groups', String(report.groups)],
            ...(lanes ? [['lanes', lanes.map((l) => `${l.lane} ${l.removed}`).join(', ')] as const] : []),
            ...(parts ? [['partitions', parts.map((p) => `#${p.partition} ${p.removed}`).join(', ')] as const] : []),
          ]),
        );
      }),
    );
}
