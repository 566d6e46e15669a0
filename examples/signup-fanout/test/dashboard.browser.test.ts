import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { CHROMIUM, chromiumAvailable, launchBrowser, startDemo, type RunningDemo } from './helpers';

jest.setTimeout(120_000);

const ARTIFACTS = join(__dirname, '..', '..', '..', 'test-artifacts');
const EVENTS = 40;

let run: RunningDemo;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  if (!chromiumAvailable()) {
    throw new Error(`no Chromium at ${CHROMIUM}: install it (apt-get install -y chromium) or set CHROMIUM_PATH; "pnpm test" does not need it, "pnpm test:browser" does`);
  }
  run = await startDemo();
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1600, height: 1300 } });
  page.setDefaultTimeout(30_000);
});

afterAll(async () => {
  await browser?.close();
  await run?.stop();
});

/** Type into a number box and leave it (that fires `change`), waiting for the API to accept it. */
async function setKnob(testId: string, value: string, route: string): Promise<void> {
  const input = page.getByTestId(testId);
  const accepted = page.waitForResponse((r) => r.url().endsWith(route) && r.request().method() === 'POST');
  await input.fill(value);
  await input.press('Tab');
  expect((await accepted).status()).toBe(200);
}

async function statOf(testId: string): Promise<number> {
  return Number((await page.getByTestId(testId).textContent())!.replace(/,/g, ''));
}

test('the page publishes, fans out to every group, retries failures and reclaims a hung delivery', async () => {
  await page.goto(run.url);
  await page.waitForSelector('body[data-ready="true"]');
  await expect(page.getByTestId('live').textContent()).resolves.toContain('live');

  // Billing fails 30 % of attempts (with 10 attempts, nothing should reach dead letters);
  // email's next delivery freezes its worker.
  await setKnob('billing-failureRate', '30', '/api/groups/billing');
  await setKnob('billing-maxAttempts', '10', '/api/groups/billing');
  const armed = page.waitForResponse((r) => r.url().endsWith('/api/groups/email/crash'));
  await page.getByTestId('email-crash-count').fill('1');
  await page.getByTestId('email-crash').click();
  expect((await armed).status()).toBe(200);

  await page.getByTestId('publish-count').fill(String(EVENTS));
  await page.getByTestId('publish-kind').selectOption('pro');
  const published = page.waitForResponse((r) => r.url().endsWith('/api/publish'));
  await page.getByTestId('publish').click();
  expect((await published).status()).toBe(200);
  await page.waitForFunction((n) => document.querySelector('[data-testid="total-published"]')?.textContent === String(n), EVENTS);

  // The crashed worker's entry shows in the pending panel, owned by a crashed consumer.
  await page.waitForSelector('#pending-body .tag.crashed', { timeout: 15_000 });
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, 'signup-fanout-midrun.png') });

  // Every group processed every event, as the page shows it.
  await page.waitForFunction((n) => ['email', 'billing', 'analytics'].every((g) => document.querySelector(`[data-testid="${g}-processed"]`)?.textContent === String(n)), EVENTS, { timeout: 60_000 });
  for (const g of ['email', 'billing', 'analytics']) expect(await statOf(`${g}-processed`)).toBe(EVENTS);

  // Retries happened in billing only; the hung delivery was reclaimed by another email worker.
  expect(await statOf('billing-retries')).toBeGreaterThan(0);
  expect(await statOf('email-retries')).toBe(0);
  expect(await statOf('billing-dead')).toBe(0);
  expect(await statOf('email-crashes')).toBe(1);
  await page.waitForFunction(() => document.querySelector('[data-testid="email-recovered"]')?.textContent === '1');
  expect(await statOf('email-reclaimed')).toBeGreaterThanOrEqual(1);
  await expect(page.getByTestId('activity').textContent()).resolves.toMatch(/took over \d+-\d+ from crashed email-w\d/);

  // Click an event: the drawer shows its status in every group.
  await page.locator('#events-body tr').first().click();
  await page.waitForSelector('#drawer.open [data-group-status="analytics"]');
  for (const g of ['email', 'billing', 'analytics']) {
    await expect(page.locator(`#drawer [data-group-status="${g}"] [data-state]`).getAttribute('data-state')).resolves.toBe('succeeded');
  }
  await page.screenshot({ path: join(ARTIFACTS, 'signup-fanout-done.png') });
  await page.keyboard.press('Escape');

  // A declined card lands in billing's dead letters and can be purged from the panel.
  const pub = page.waitForResponse((r) => r.url().endsWith('/api/publish'));
  await page.getByTestId('publish-count').fill('1');
  await page.getByTestId('publish-kind').selectOption('card-declined');
  await page.getByTestId('publish').click();
  await pub;
  await page.locator('#dead-tabs [data-tab="billing"]').click();
  await page.waitForSelector('#dead-body [data-action="purge"]');
  const purged = page.waitForResponse((r) => r.url().endsWith('/api/groups/billing/dead-letters/purge'));
  await page.locator('#dead-body [data-action="purge"]').first().click();
  expect((await purged).status()).toBe(200);
  await page.waitForFunction(() => document.querySelector('[data-testid="billing-dead"]')?.textContent === '0');
});
