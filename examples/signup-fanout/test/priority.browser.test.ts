import type { Browser, Page } from 'playwright-core';
import { CHROMIUM, chromiumAvailable, launchBrowser, startDemo, type RunningDemo } from './helpers';

jest.setTimeout(120_000);

let run: RunningDemo;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  if (!chromiumAvailable()) throw new Error(`no Chromium at ${CHROMIUM}: install it (apt-get install -y chromium) or set CHROMIUM_PATH`);
  run = await startDemo();
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1600, height: 1300 } });
  page.setDefaultTimeout(30_000);
});

afterAll(async () => {
  await browser?.close();
  await run?.stop();
});

const laneCount = (g: string, lane: string) =>
  page.evaluate(([g2, l2]) => document.querySelector(`[data-testid="${g2}-lanes"] [data-lane="${l2}"] b`)?.textContent ?? null, [g, lane] as const);

test('the Publish form has a priority selector; each group card shows its backlog per lane', async () => {
  await page.goto(run.url);
  await page.waitForSelector('body[data-ready="true"]');
  expect(await page.getByTestId('publish-priority').inputValue()).toBe('normal');

  // email stopped: what is published to the high lane waits there.
  const stopped = page.waitForResponse((r) => r.url().endsWith('/api/groups/email/stop'));
  await page.getByTestId('email-toggle').click();
  expect((await stopped).status()).toBe(200);
  await page.getByTestId('publish-count').fill('3');
  await page.getByTestId('publish-priority').selectOption('high');
  const published = page.waitForResponse((r) => r.url().endsWith('/api/publish'));
  await page.getByTestId('publish').click();
  const res = await published;
  expect(res.status()).toBe(200);
  expect(JSON.parse(res.request().postData()!)).toMatchObject({ count: 3, priority: 'high' });

  await page.waitForFunction(() => document.querySelector('[data-testid="email-lanes"] [data-lane="high"] b')?.textContent === '3');
  expect(await laneCount('email', 'normal')).toBe('0');
  expect(await laneCount('email', 'low')).toBe('0');
  await page.waitForSelector('#events-body [data-testid="event-lane"]');
  expect(await page.locator('#events-body [data-testid="event-lane"]').first().textContent()).toBe('high');
  await page.waitForFunction(() => /high 3/.test(document.querySelector('[data-testid="total-lanes"]')?.textContent ?? ''));

  // Started again, email drains its high lane.
  await page.getByTestId('email-toggle').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="email-lanes"] [data-lane="high"] b')?.textContent === '0', undefined, { timeout: 60_000 });
});
