/**
 * Screenshots of the page at several widths, mid-run, for checking the layout by eye:
 * `pnpm --filter @streamfan/example-signup-fanout exec tsx test/layout-shots.ts <out-dir>`
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { sleep } from '@streamfan/testing';
import { launchBrowser, startDemo } from './helpers';

async function main(): Promise<void> {
  const out = resolve(process.argv[2] ?? 'test-artifacts/layout');
  mkdirSync(out, { recursive: true });
  const run = await startDemo({ visibilityTimeoutMs: 120_000 });
  const browser = await launchBrowser();
  try {
    await run.demo.updateGroup('billing', { failureRate: 0.3, maxAttempts: 4 });
    await run.demo.updateGroup('analytics', { latencyMs: 300 });
    await run.demo.publish(3, 'card-declined');
    await run.demo.crashNext('email', 2);
    await run.demo.publish(30, 'pro');
    await sleep(4000);
    for (const width of (process.env.WIDTHS ?? '400,1024,1280').split(',').map(Number)) {
      const page = await browser.newPage({ viewport: { width, height: 900 }, deviceScaleFactor: 1 });
      await page.goto(run.url);
      await page.waitForSelector('body[data-ready="true"]');
      await page.locator('#dead-tabs [data-tab="billing"]').click();
      await sleep(800);
      await page.screenshot({ path: join(out, `w${width}.png`) });
      const parts: Record<string, string> = {
        header: 'header.topbar', publish: 'section.publish', groups: '#groups', billing: '.gcard[data-group="billing"]',
        events: 'section.events-card', pending: '[data-testid="pending-panel"]', dead: '[data-testid="dead-panel"]',
      };
      for (const [name, sel] of Object.entries(parts)) await page.locator(sel).screenshot({ path: join(out, `w${width}-${name}.png`) });
      await page.locator('#events-body tr').first().click();
      await page.waitForSelector('#drawer.open [data-group-status]');
      await sleep(300);
      await page.screenshot({ path: join(out, `w${width}-drawer.png`) });
      await page.close();
    }
    console.log(`wrote ${out}`);
  } finally {
    await browser.close();
    await run.stop();
  }
}

main().catch((err) => { console.error(err); process.exit(1); });
