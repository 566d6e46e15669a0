/**
 * Take the README's screenshot: run the demo against a throwaway redis-server, drive the page
 * like a person would (failures on billing, a crash on email, a slow analytics) and capture it
 * mid-run. `pnpm --filter @streamfan/example-signup-fanout screenshot [out.png]`
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { sleep } from '@streamfan/testing';
import { launchBrowser, startDemo } from './helpers';

async function main(): Promise<void> {
  const out = resolve(process.argv[2] ?? resolve(__dirname, '..', '..', '..', 'docs', 'demo.png'));
  const run = await startDemo();
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 }, deviceScaleFactor: 1 });
    await page.goto(run.url);
    await page.waitForSelector('body[data-ready="true"]');
    await run.demo.updateGroup('billing', { failureRate: 0.3, maxAttempts: 6 });
    await run.demo.updateGroup('analytics', { latencyMs: 400 });
    await run.demo.updateGroup('email', { latencyMs: 300 });
    await run.demo.publish(6, 'free');
    await run.demo.publish(3, 'card-declined');
    await sleep(2500);
    await run.demo.crashNext('email', 2);
    await run.demo.publish(60, 'pro');
    await page.locator('#dead-tabs [data-tab="billing"]').click();
    // Size the viewport to the whole page (a full-page capture would paint the sticky header mid-page).
    await sleep(600);
    const height = await page.evaluate(() => document.documentElement.scrollHeight);
    await page.setViewportSize({ width: 1600, height });
    // Capture while the crashed workers' entries wait for their visibility timeout.
    await page.waitForSelector('#pending-body .tag.crashed');
    await sleep(Number(process.env.SHOT_DELAY_MS ?? 1200));
    mkdirSync(dirname(out), { recursive: true });
    await page.screenshot({ path: out });
    console.log(`wrote ${out}`);
  } finally {
    await browser.close();
    await run.stop();
  }
}

main().catch((err) => { console.error(err); process.exit(1); });
