import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { waitFor } from '@streamfan/testing';
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

test('"Purge all" asks first: dismissed, nothing is purged; confirmed, the dead letters go', async () => {
  await page.setViewportSize({ width: 1600, height: 1300 });
  const pub = page.waitForResponse((r) => r.url().endsWith('/api/publish'));
  await page.getByTestId('publish-count').fill('2');
  await page.getByTestId('publish-kind').selectOption('card-declined');
  await page.getByTestId('publish').click();
  await pub;
  await page.locator('#dead-tabs [data-tab="billing"]').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="billing-dead"]')?.textContent === '2');
  const purges: string[] = [];
  page.on('request', (r) => { if (r.url().endsWith('/dead-letters/purge')) purges.push(r.url()); });

  const asked: string[] = [];
  page.once('dialog', (d) => { asked.push(d.message()); void d.dismiss(); });
  await page.getByTestId('purge-all').click();
  await page.waitForTimeout(300); // the click's handler has run (a dialog is synchronous); no request follows a "no"
  expect(asked).toEqual([expect.stringContaining('Purge all 2 dead letters of billing?')]);
  expect(purges).toEqual([]);
  expect(await statOf('billing-dead')).toBe(2);

  page.once('dialog', (d) => void d.accept());
  const purged = page.waitForResponse((r) => r.url().endsWith('/api/groups/billing/dead-letters/purge'));
  await page.getByTestId('purge-all').click();
  expect((await purged).status()).toBe(200);
  await page.waitForFunction(() => document.querySelector('[data-testid="billing-dead"]')?.textContent === '0');
});

test('the demo links to the operations dashboard of its own prefix: the header link and the event drawer open it', async () => {
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(run.url);
  await page.waitForSelector('body[data-ready="true"]');
  const link = page.getByTestId('dashboard-link');
  await link.waitFor({ state: 'visible' });
  expect(await link.getAttribute('href')).toBe('/dashboard/');
  const [dash] = await Promise.all([page.context().waitForEvent('page'), link.click()]);
  const errors: string[] = [];
  dash.on('pageerror', (e) => errors.push(e.message));
  dash.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await dash.waitForSelector('body[data-ready="true"]');
  // The same prefix: the demo's topic and its three groups, with the events published above.
  await dash.waitForSelector('[data-topic="user.signup"]');
  expect(await dash.locator('title').textContent()).toBe(`streamfan · ${run.demo.prefix}`);
  const groups = await dash.locator('[data-topic="user.signup"] tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-group')));
  expect(groups).toEqual(['analytics', 'billing', 'email']);
  // (the demo's partitioned topic order.updated is listed too: read the signup topic's own length)
  expect(Number((await dash.locator('[data-topic="user.signup"]').getByTestId('topic-length').first().textContent())!.replace(/,/g, ''))).toBeGreaterThanOrEqual(EVENTS);
  await dash.close();

  // An event's drawer links to that event's page in the dashboard: its status in every group.
  await page.locator('#events-body tr').first().click();
  const eventLink = page.getByTestId('drawer-dashboard-link');
  await eventLink.waitFor({ state: 'visible' });
  const [ev] = await Promise.all([page.context().waitForEvent('page'), eventLink.click()]);
  await ev.waitForSelector('[data-testid="event-status"] [data-group-status="billing"]');
  expect(await ev.getByTestId('event-title').textContent()).toMatch(/^\d+-\d+$/);
  await ev.close();
  await page.keyboard.press('Escape');
  expect(errors).toEqual([]);
});

test('the ordered part: "Publish order updates" fills the order.updated table, each order handled in publish order', async () => {
  await page.goto(run.url);
  await page.waitForSelector('body[data-ready="true"]');
  for (let i = 0; i < 3; i++) {
    const done = page.waitForResponse((r) => r.url().endsWith('/api/orders') && r.request().method() === 'POST');
    await page.getByTestId('publish-orders').click();
    expect((await done).status()).toBe(200);
  }
  await waitFor(async () => (await page.getByTestId('orders-handled').textContent()) === '18', { timeoutMs: 30_000, message: '18 order updates handled' });
  const rows = await page.locator('#orders-body tr').evaluateAll((trs) => trs.map((tr) => ({
    order: tr.getAttribute('data-order'),
    handled: tr.querySelector('[data-field="handled"]')!.textContent,
    inOrder: tr.querySelector('[data-field="in-order"]')!.textContent,
  })));
  expect(rows).toHaveLength(6);
  for (const r of rows) expect(r).toEqual({ order: expect.stringMatching(/^order-\d$/), handled: '1 → 2 → 3', inOrder: '✓ in order' });
  expect(await page.getByTestId('orders-partitions').textContent()).toMatch(/^p0: \d+ · p1: \d+ · p2: \d+ · p3: \d+$/);
});

describe('layout at 400, 1024 and 1280 px', () => {
  let shot: RunningDemo;
  let p: Page;
  beforeAll(async () => {
    // Crashed workers' entries stay pending (2 min visibility timeout), dead letters and retries exist.
    shot = await startDemo({ visibilityTimeoutMs: 120_000 });
    await shot.demo.updateGroup('billing', { failureRate: 0.3, maxAttempts: 4 });
    await shot.demo.publish(3, 'card-declined');
    await shot.demo.crashNext('email', 2);
    await shot.demo.publish(30, 'pro');
    await waitFor(async () => {
      const s = await shot.demo.snapshot();
      // At least 2: two deliveries crash, and a crashed worker may also hold up to concurrency + 1
      // entries per lane read for slots it had not granted yet (user.signup has priority lanes;
      // docs/priorities.md §5).
      return s.groups.find((g) => g.name === 'email')!.pending.filter((e) => e.owner === 'crashed').length >= 2
        && s.groups.find((g) => g.name === 'billing')!.stats.deadLetters >= 3;
    }, { timeoutMs: 30_000, message: 'crashed entries pending in email, 3 dead letters in billing' });
    p = await browser.newPage({ viewport: { width: 400, height: 900 } });
    await p.goto(shot.url);
    await p.waitForSelector('body[data-ready="true"]');
    await p.locator('#dead-tabs [data-tab="billing"]').click();
    await p.waitForSelector('#dead-body tr');
    await p.waitForSelector('#pending-body tr');
  });
  afterAll(async () => {
    await p?.close();
    await shot?.stop();
  });

  /** Geometry problems on the page now, one line each (empty when the layout is right). */
  function problems(): Promise<string[]> {
    return p.evaluate(() => {
      const out: string[] = [];
      const rect = (el: Element) => el.getBoundingClientRect();
      const overlap = (a: DOMRect, b: DOMRect) => !(a.right <= b.left || b.right <= a.left || a.bottom <= b.top || b.bottom <= a.top);
      const vw = document.documentElement.clientWidth;
      if (document.documentElement.scrollWidth > vw) out.push(`page scrolls sideways: ${document.documentElement.scrollWidth} > ${vw}`);
      const live = document.querySelector('#live')!;
      for (const b of Array.from(document.querySelectorAll('.top-actions .btn, .brand'))) if (overlap(rect(live), rect(b))) out.push(`header: "${b.textContent!.trim()}" covers the live badge`);
      for (const k of Array.from(document.querySelectorAll('.stat .k'))) if (k.scrollWidth > k.clientWidth + 1) out.push(`stat label cut: "${k.textContent}"`);
      for (const card of Array.from(document.querySelectorAll('.gcard'))) {
        const c = rect(card);
        for (const b of Array.from(card.querySelectorAll('.ghead .btn, .ghead .badge'))) if (rect(b).right > c.right + 1) out.push(`group card ${card.getAttribute('data-group')}: "${b.textContent}" runs off the card`);
      }
      for (const wrap of Array.from(document.querySelectorAll('.table-wrap'))) if (wrap.scrollWidth > wrap.clientWidth + 1) out.push(`table runs off its panel: ${wrap.closest('section')?.querySelector('h2')?.textContent} (${wrap.scrollWidth} > ${wrap.clientWidth})`);
      for (const b of Array.from(document.querySelectorAll('#pending-body button, #dead-body button'))) {
        const wrap = rect(b.closest('.table-wrap')!);
        const r = rect(b);
        if (r.right > wrap.right + 1 || r.left < wrap.left - 1 || r.width === 0) out.push(`button out of view: ${b.textContent}`);
        // Nothing covers or clips it: scrolled into view, the point at its middle is the button.
        b.scrollIntoView({ block: 'center', inline: 'nearest' });
        const c = rect(b);
        const hit = document.elementFromPoint(c.left + c.width / 2, c.top + c.height / 2);
        if (c.right > vw || c.left < 0 || !hit || !(hit === b || b.contains(hit))) out.push(`button hidden or covered: ${b.textContent} (at ${Math.round(c.left)}..${Math.round(c.right)} of ${vw})`);
      }
      return out;
    });
  }

  test('400 px: header buttons clear of the live badge, no stat label cut, tables and drawer JSON within the screen', async () => {
    expect(await problems()).toEqual([]);
    await p.locator('#events-body tr').first().click();
    await p.waitForSelector('#drawer.open [data-group-status]');
    const drawer = await p.evaluate(() => {
      const body = document.querySelector('#drawer-body')!;
      const cut = Array.from(body.querySelectorAll('pre.json, .kv > span')).filter((e) => e.scrollWidth > e.clientWidth + 1).map((e) => e.textContent!.slice(0, 40));
      return { overflow: body.scrollWidth - body.clientWidth, cut };
    });
    expect(drawer).toEqual({ overflow: 0, cut: [] });
    await p.screenshot({ path: join(ARTIFACTS, 'signup-fanout-400-drawer.png') });
    await p.keyboard.press('Escape');
  });

  test('1024 px: the three group cards stand side by side, nothing cut', async () => {
    await p.setViewportSize({ width: 1024, height: 900 });
    await p.waitForTimeout(300);
    const cards = await p.locator('.gcard').evaluateAll((els) => els.map((e) => { const r = e.getBoundingClientRect(); return { top: Math.round(r.top), left: Math.round(r.left) }; }));
    expect(cards).toHaveLength(3);
    expect(new Set(cards.map((c) => c.top)).size).toBe(1);
    expect(new Set(cards.map((c) => c.left)).size).toBe(3);
    expect(await problems()).toEqual([]);
  });

  test("1280 px: the pending panel's Reclaim buttons are in view", async () => {
    await p.setViewportSize({ width: 1280, height: 900 });
    await p.waitForTimeout(300);
    // One per entry held by a crashed worker: 2 or more (a laned consumer reads ahead, see above).
    expect(await p.locator('#pending-body [data-action="reclaim"]').count()).toBeGreaterThanOrEqual(2);
    expect(await problems()).toEqual([]);
  });
});
