import { DEFAULT_SETTINGS } from '../src/runner';
import { runSequence } from '../src/sequence';

/**
 * The checker can fail: an event written and deleted behind the library's back (as a loss bug
 * would) is reported, while the same sequence without the sabotage passes.
 */
test('self-check: a silently deleted event is reported as not finished', async () => {
  const ok = { a: { k: 'ok' as const }, b: { k: 'ok' as const } };
  const r = await runSequence([{ c: 'publish', plans: ok }, { c: 'sabotage', plans: ok }, { c: 'publish', plans: ok }], { ...DEFAULT_SETTINGS, quiesceTimeoutMs: 5000 });
  expect(r.violations.map((v) => v.check)).toContain('not-quiescent');
  expect(r.violations.find((v) => v.check === 'not-quiescent')?.detail).toMatch(/seq 2 a=(none|unknown)/);
  const clean = await runSequence([{ c: 'publish', plans: ok }, { c: 'publish', plans: ok }], DEFAULT_SETTINGS);
  expect(clean.violations).toEqual([]);
}, 120_000);
