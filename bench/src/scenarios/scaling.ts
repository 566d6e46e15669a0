import type { BenchContext } from '../context';
import type { FanoutResult } from '../results';
import { defaultConcurrency, fanoutRun } from './fanout';

/** streamfan deliveries/s against groups, concurrency and payload size (the floor too, for payload size). */
export async function scalingScenario(ctx: BenchContext): Promise<{ groups: FanoutResult[]; concurrency: FanoutResult[]; payload: FanoutResult[] }> {
  const c = ctx.config;
  const base = { events: c.scaleEvents, groups: c.groups, concurrency: c.streamfanConcurrency, payloadBytes: c.payloadBytes };
  const groups: FanoutResult[] = [];
  for (const g of c.scaleGroups) {
    ctx.progress.begin(`scaling: ${g} group(s) in ${ctx.pool.processesFor(g)} process(es), ${c.scaleEvents.toLocaleString('en-US')} events`);
    groups.push(await fanoutRun(ctx, 'streamfan', { ...base, groups: g, label: `${g} groups` }));
  }
  const concurrency: FanoutResult[] = [];
  for (const n of c.scaleConcurrency) {
    ctx.progress.begin(`scaling: concurrency ${n}, ${c.groups} groups, ${c.scaleEvents.toLocaleString('en-US')} events`);
    concurrency.push(await fanoutRun(ctx, 'streamfan', { ...base, concurrency: n, label: `concurrency ${n}` }));
  }
  const payload: FanoutResult[] = [];
  for (const bytes of c.scalePayloads) {
    for (const system of ['streamfan', 'floor'] as const) {
      ctx.progress.begin(`scaling: ${system}, payload ${bytes} B, ${c.groups} groups, ${c.scaleEvents.toLocaleString('en-US')} events`);
      payload.push(await fanoutRun(ctx, system, { ...base, concurrency: defaultConcurrency(ctx, system), payloadBytes: bytes, label: `${system} payload ${bytes} B` }));
    }
  }
  return { groups, concurrency, payload };
}
