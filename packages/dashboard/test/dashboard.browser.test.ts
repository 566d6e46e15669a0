import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type ConsoleMessage, type Page } from 'playwright-core';
import { defineTopic, partitionKeys } from '@streamfan/core/internal';
import { startDashboard, type RunningDashboard } from '../src';
import { HOSTILE, startFixture, type Fixture } from './fixture';

jest.setTimeout(120_000);

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = join(__dirname, '..', '..', '..', 'docs', 'dashboard');

let f: Fixture;
let rw: RunningDashboard;
let ro: RunningDashboard;
let browser: Browser;
let page: Page;
/** Console errors and page errors of every page; requests a test makes fail on purpose are expected there by text. */
const problems: string[] = [];
const expectedFailures: RegExp[] = [];

function watch(p: Page): void {
  p.on('console', (m: ConsoleMessage) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`); });
  p.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  p.on('dialog', (d) => { if (!dialogHandlers.length) problems.push(`unexpected dialog: ${d.message()}`); });
}

/** Answer the next confirmation dialog; resolves with its message. */
const dialogHandlers: Array<(msg: string) => void> = [];
function answerNextDialog(p: Page, accept: boolean): Promise<string> {
  return new Promise((resolve) => {
    dialogHandlers.push(resolve);
    p.once('dialog', (d) => {
      dialogHandlers.shift();
      resolve(d.message());
      void (accept ? d.accept() : d.dismiss());
    });
  });
}

async function open(p: Page, base: string, hash: string): Promise<void> {
  await p.goto(`${base}${hash}`);
  await p.waitForSelector('body[data-ready="true"]');
}

async function pwned(p: Page): Promise<unknown> {
  return p.evaluate(() => (window as unknown as { __pwned?: unknown }).__pwned);
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install it (apt-get install -y chromium) or set CHROMIUM_PATH; "pnpm test" does not need it, "pnpm test:browser" does`);
  f = await startFixture();
  rw = await startDashboard({ client: f.sf, port: 0, allowActions: true, intervalMs: 400 });
  ro = await startDashboard({ client: f.sf, port: 0, intervalMs: 400 });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(20_000);
  watch(page);
  mkdirSync(SHOTS, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  await rw?.close();
  await ro?.close();
  await f?.stop();
});

test('overview: every topic and group, the "no consumers" warning, dead letters, live charts; hostile names stay text', async () => {
  await open(page, rw.url, '#/');
  const orders = page.locator('[data-testid="topic-card"][data-topic="orders"]');
  await orders.waitFor();
  await expect(orders.getByTestId('topic-length').textContent()).resolves.toBe('6');
  await expect(orders.locator('tr[data-group="billing"] [data-k="dead"]').textContent()).resolves.toBe('6');
  await expect(orders.locator('tr[data-group="audit"] [data-k="pending"]').textContent()).resolves.toBe('5');
  await expect(orders.locator('tr[data-group="retrier"] [data-k="retrying"]').textContent()).resolves.toBe('6');
  expect(await orders.locator('tr[data-group="email"] [data-testid="no-consumers"]').count()).toBe(1);
  expect(await orders.locator('tr[data-group="audit"] [data-testid="no-consumers"]').count()).toBe(0);
  expect(await orders.locator('svg.spark').count()).toBeGreaterThanOrEqual(10);
  // The hostile group and topic names show as the text they are.
  await expect(orders.locator('tr', { hasText: HOSTILE.group }).getByTestId('group-link').textContent()).resolves.toBe(HOSTILE.group);
  await expect(page.locator(`[data-testid="topic-card"]`, { hasText: HOSTILE.topic }).getByTestId('topic-link').textContent()).resolves.toBe(HOSTILE.topic);
  expect(await page.locator('#view img, #view script').count()).toBe(0);
  expect(await pwned(page)).toBeUndefined();
  await expect(page.getByTestId('mode').textContent()).resolves.toBe('actions on');
  await page.screenshot({ path: join(SHOTS, 'overview.png'), fullPage: true });
});

test('live: a new event shows on the overview without a reload, and the publish rate moves', async () => {
  await open(page, rw.url, '#/');
  await page.waitForFunction(() => document.querySelector('#live')?.classList.contains('on'));
  const marker = await page.evaluate(() => { (window as unknown as { __same?: number }).__same = 1; return 1; });
  await f.sf.publish(defineTopic('orders'), { order: 'live' });
  await page.waitForFunction(() => document.querySelector('[data-topic="orders"] [data-testid="topic-length"]')?.textContent === '7');
  await page.waitForFunction(() => /[1-9]/.test(document.querySelector('[data-topic="orders"] [data-testid="publish-rate"] .rate-v')?.textContent ?? ''));
  expect(await page.evaluate(() => (window as unknown as { __same?: number }).__same)).toBe(marker); // same page: no reload
});

test('topic: groups side by side, recent events × groups, safe-trim floor, delayed events due next', async () => {
  await open(page, rw.url, '#/');
  await page.locator('[data-topic="orders"] [data-testid="topic-link"]').click();
  await page.waitForSelector('[data-testid="matrix"] tbody tr[data-event]');
  expect(await page.locator('.gcard').count()).toBe(5);
  const row = page.locator(`[data-testid="matrix"] tr[data-event="${f.hostileId}"]`);
  await expect(row.locator('[data-group-cell="billing"] [data-state]').getAttribute('data-state')).resolves.toBe('dead');
  await expect(row.locator('[data-group-cell="email"] [data-state]').getAttribute('data-state')).resolves.toBe('succeeded');
  await expect(row.locator('[data-group-cell="audit"] [data-state]').getAttribute('data-state')).resolves.toBe('processing');
  await expect(row.locator('[data-group-cell="retrier"] [data-state]').getAttribute('data-state')).resolves.toBe('failed');
  await expect(page.getByTestId('trim-head').textContent()).resolves.toBe(f.ids[0]);
  await expect(page.getByTestId('trim-floor').textContent()).resolves.toBe(f.ids[0]);
  await expect(page.getByTestId('delayed').textContent()).resolves.toContain(f.delayedId);
});

test('event: payload and headers pretty-printed as text, status in every group, its dead letters; hostile payload inert', async () => {
  await open(page, rw.url, `#/t/orders`);
  await page.locator(`[data-testid="matrix"] tr[data-event="${f.hostileId}"] a`).first().click();
  await page.waitForSelector('[data-testid="event-status"] [data-group-status="billing"]');
  await expect(page.getByTestId('payload').textContent()).resolves.toBe(JSON.stringify(HOSTILE.payload, null, 2));
  await expect(page.getByTestId('headers').textContent()).resolves.toBe(JSON.stringify(HOSTILE.headers, null, 2));
  await expect(page.locator('[data-group-status="billing"] [data-state]').getAttribute('data-state')).resolves.toBe('dead');
  await expect(page.locator('[data-group-status="audit"] .mono').textContent()).resolves.toBe(HOSTILE.consumer);
  await expect(page.getByTestId('event-dead-letters').textContent()).resolves.toContain('card declined: <b>bold</b> </script>');
  expect(await page.locator('#view img, #view script, #view b:has-text("bold")').count()).toBe(0);
  expect(await pwned(page)).toBeUndefined();
  await page.screenshot({ path: join(SHOTS, 'event.png'), fullPage: true });
});

test('search: by idempotency key, by delayed id and by event id, then open the event', async () => {
  await open(page, rw.url, '#/');
  await page.getByTestId('search-input').fill('order-42');
  await page.getByTestId('search-submit').click();
  await page.waitForSelector('[data-testid="hit"]');
  await expect(page.getByTestId('hits').textContent()).resolves.toContain('idempotency key order-42');
  await page.getByTestId('hit').click();
  await page.waitForFunction((id) => document.querySelector('[data-testid="event-title"]')?.textContent === id, f.idempotentId);
  await page.getByTestId('search-input').fill(f.delayedId);
  await page.getByTestId('search-input').press('Enter');
  await page.waitForSelector('[data-testid="hit"]');
  await page.getByTestId('hit').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="payload"]')?.textContent?.includes('later'));
  await expect(page.locator('[data-group-status="email"] [data-state]').getAttribute('data-state')).resolves.toBe('scheduled');
  await page.getByTestId('search-input').fill('nothing-like-this');
  await page.getByTestId('search-submit').click();
  await page.waitForSelector('[data-testid="no-hits"]');
});

test('group: claim and ack pending entries, each confirmed first (a "no" sends nothing)', async () => {
  await open(page, rw.url, '#/g/orders/audit');
  await page.waitForSelector('[data-testid="pending"] tr[data-id]');
  expect(await page.locator('[data-testid="pending"] tr[data-id]').count()).toBe(5);
  await expect(page.getByTestId('consumers').textContent()).resolves.toContain(HOSTILE.consumer);
  const posts: string[] = [];
  page.on('request', (r) => { if (r.method() === 'POST') posts.push(r.url()); });

  let asked = answerNextDialog(page, false);
  await page.locator(`[data-testid="pending"] tr[data-id="${f.ids[0]}"] [data-action="claim"]`).click();
  expect(await asked).toContain(`Claim 1 pending entry of audit for consumer "${HOSTILE.consumer}"`); // a name in a dialog is text too
  await page.waitForTimeout(300);
  expect(posts).toEqual([]);

  await page.getByTestId('claim-consumer').fill('rescuer');
  asked = answerNextDialog(page, true);
  const claimed = page.waitForResponse((r) => r.url().endsWith('/claim'));
  await page.locator(`[data-testid="pending"] tr[data-id="${f.ids[0]}"] [data-action="claim"]`).click();
  expect(await asked).toContain('for consumer "rescuer"');
  expect((await claimed).status()).toBe(200);
  await page.waitForFunction((id) => document.querySelector(`[data-testid="pending"] tr[data-id="${id}"]`)?.textContent?.includes('rescuer'), f.ids[0]);

  await page.locator(`[data-testid="pending"] input[data-id="${f.ids[0]}"]`).check();
  await page.locator(`[data-testid="pending"] input[data-id="${f.ids[1]}"]`).check();
  asked = answerNextDialog(page, true);
  const acked = page.waitForResponse((r) => r.url().endsWith('/ack'));
  await page.getByTestId('ack-selected').click();
  expect(await asked).toContain('Acknowledge 2 pending entries of audit');
  expect((await acked).status()).toBe(200);
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="pending"] tr[data-id]').length === 3);
  await page.screenshot({ path: join(SHOTS, 'group.png'), fullPage: true });
});

test('group: replay one, purge a selection, purge all — each confirmed; retries show their next attempt', async () => {
  await open(page, rw.url, '#/g/orders/billing');
  await page.waitForSelector('[data-testid="dead-letters"] tr[data-id]');
  const rows = () => page.locator('[data-testid="dead-letters"] tr[data-id]');
  expect(await rows().count()).toBe(6);
  const first = await rows().first().getAttribute('data-id');

  let asked = answerNextDialog(page, true);
  const replayed = page.waitForResponse((r) => r.url().endsWith('/dead-letters/replay'));
  await rows().first().locator('[data-action="replay"]').click();
  expect(await asked).toContain('Replay 1 dead letter of billing?');
  expect(await (await replayed).json()).toEqual({ replayed: 1 });
  await page.waitForFunction((id) => !document.querySelector(`[data-testid="dead-letters"] tr[data-id="${id}"]`), first);

  const two = await rows().evaluateAll((els) => els.slice(0, 2).map((e) => e.getAttribute('data-id')));
  for (const id of two) await page.locator(`[data-testid="dead-letters"] input[data-id="${id}"]`).check();
  asked = answerNextDialog(page, true);
  const purged = page.waitForResponse((r) => r.url().endsWith('/dead-letters/purge'));
  await page.getByTestId('purge-selected').click();
  expect(await asked).toContain('Purge 2 selected dead letters of billing?');
  expect(await (await purged).json()).toEqual({ purged: 2 });
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="dead-letters"] tr[data-id]').length === 3);

  asked = answerNextDialog(page, false);
  await page.getByTestId('purge-all').click();
  expect(await asked).toContain('Purge all 3 dead letters of billing?');
  await page.waitForTimeout(300);
  expect(await rows().count()).toBe(3);
  asked = answerNextDialog(page, true);
  const all = page.waitForResponse((r) => r.url().endsWith('/dead-letters/purge'));
  await page.getByTestId('purge-all').click();
  await asked;
  expect(await (await all).json()).toEqual({ purged: 3 });
  await page.waitForFunction(() => document.querySelector('[data-testid="dead-total"]')?.textContent === '0 in all');

  await open(page, rw.url, '#/g/orders/retrier');
  await page.waitForSelector('[data-testid="retries"] tbody tr');
  await expect(page.getByTestId('retries').textContent()).resolves.toMatch(/in (9|10) m/);
});

test('read-only: no action buttons, and the API answers 403 to an action sent anyway', async () => {
  const p = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  watch(p);
  expectedFailures.push(/status of 403/);
  try {
    await open(p, ro.url, '#/g/orders/audit');
    await p.waitForSelector('[data-testid="read-only-note"]');
    await expect(p.getByTestId('mode').textContent()).resolves.toBe('read-only');
    expect(await p.locator('[data-action], [data-testid="ack-selected"], [data-testid="purge-all"]').count()).toBe(0);
    const answer = await p.evaluate(async () => {
      const meta = await (await fetch('api/meta')).json() as { csrf: string };
      const res = await fetch('api/topics/orders/groups/audit/ack', { method: 'POST', headers: { 'content-type': 'application/json', 'x-streamfan-csrf': meta.csrf }, body: JSON.stringify({ ids: ['1-1'] }) });
      return { status: res.status, body: await res.json() as { code: string } };
    });
    expect(answer).toEqual({ status: 403, body: expect.objectContaining({ code: 'READ_ONLY' }) });
  } finally {
    await p.close();
  }
});

test('a refused name (the hostile group) shows its error as text', async () => {
  expectedFailures.push(/status of 400/);
  await open(page, rw.url, '#/');
  await page.locator('[data-topic="orders"] tr', { hasText: HOSTILE.group }).getByTestId('group-link').click();
  await page.waitForSelector('#banner:not([hidden])');
  await expect(page.locator('#banner').textContent()).resolves.toContain('group name "</script><img src=x onerror=');
  expect(await page.locator('img, script:not([src])').count()).toBe(0);
  expect(await pwned(page)).toBeUndefined();
});

test('layout: 400 px and 1280 px, nothing scrolls sideways and no button runs off its table', async () => {
  const p = await browser.newPage({ viewport: { width: 400, height: 900 } });
  watch(p);
  try {
    for (const [width, hash] of [[400, '#/'], [400, '#/t/orders'], [400, '#/g/orders/audit'], [400, `#/e/orders/${f.hostileId}`], [1280, '#/g/orders/audit'], [1280, '#/t/orders']] as const) {
      await p.setViewportSize({ width, height: 900 });
      await open(p, rw.url, hash);
      await p.waitForSelector('#view > *');
      const bad = await p.evaluate(() => {
        const out: string[] = [];
        const vw = document.documentElement.clientWidth;
        if (document.documentElement.scrollWidth > vw) out.push(`page scrolls sideways: ${document.documentElement.scrollWidth} > ${vw}`);
        for (const b of Array.from(document.querySelectorAll('.toolbar .btn, .page-head, .card-head'))) {
          const r = b.getBoundingClientRect();
          if (r.right > vw + 1) out.push(`runs off the screen: ${b.textContent?.slice(0, 40)}`);
        }
        for (const pre of Array.from(document.querySelectorAll('pre.json'))) if (pre.scrollWidth > pre.clientWidth + 1) out.push('JSON cut sideways');
        return out;
      });
      expect([width, hash, bad]).toEqual([width, hash, []]);
      if (width === 400 && hash === '#/') await p.screenshot({ path: join(SHOTS, 'overview-400.png'), fullPage: true });
    }
  } finally {
    await p.close();
  }
});

test('partitioned topic: partitions on the overview, the group page over partitions (p<i>: ids), an event by its p<i>: id, a claim there; 400 px', async () => {
  const parted = defineTopic<{ k: string }>('parted', { partitions: 3 });
  const keys = ['a', 'b', 'c', 'd', 'e'];
  const ids = await f.sf.publishMany(parted, keys.map((k) => ({ k })), { keys });
  for (let i = 0; i < 3; i++) {
    const k = partitionKeys(f.prefix, 'parted', i);
    await f.sf.redis.xgroup('CREATE', k.stream, 'held', '0', 'MKSTREAM');
    await f.sf.redis.xreadgroup('GROUP', 'held', 'stuck-worker', 'COUNT', 100, 'STREAMS', k.stream, '>');
  }
  await open(page, rw.url, '#/');
  await page.waitForSelector('[data-topic="parted"] [data-testid="partitions"] .part', { timeout: 30_000 });
  expect(await page.locator('[data-topic="parted"] [data-testid="partitions"] .part').count()).toBe(3);
  await page.locator('[data-topic="parted"] tr[data-group="held"] [data-testid="group-link"]').click();
  await page.waitForSelector('[data-testid="group-partitions"] tr[data-partition]');
  expect(await page.locator('[data-testid="group-partitions"] tr[data-partition]').count()).toBe(3);
  const rows = page.locator('[data-testid="pending"] tbody tr[data-id]');
  expect((await rows.evaluateAll((trs) => trs.map((t) => t.getAttribute('data-id')))).sort()).toEqual([...ids].sort());
  await page.screenshot({ path: join(SHOTS, 'group-partitioned.png'), fullPage: true });
  // Claim one entry from the merged table: core claims it in its partition (or, where core
  // refuses partitions, the page says so in the banner and stays).
  const first = (await rows.first().getAttribute('data-id'))!;
  const asked = answerNextDialog(page, true);
  await rows.first().locator('[data-action="claim"]').click();
  expect(await asked).toContain('Claim 1 pending entry of held');
  await page.waitForFunction(() => !(document.querySelector('#toast') as HTMLElement).hidden || !(document.querySelector('#banner') as HTMLElement).hidden);
  const banner = await page.locator('#banner').evaluate((b) => ((b as HTMLElement).hidden ? '' : b.textContent ?? ''));
  if (banner) expect(banner).toMatch(/not supported by this version of @streamfan\/core yet, so nothing was changed/);
  else await expect(page.locator('#toast').textContent()).resolves.toMatch(/claimed 1/);
  await page.waitForSelector('[data-testid="group-title"]');
  // The event by its p<i>: id, from the merged table.
  await page.locator(`[data-testid="pending"] tr[data-id="${first}"] a`).first().click();
  await page.waitForSelector('[data-testid="event-status"] [data-group-status="held"]');
  await expect(page.getByTestId('event-title').textContent()).resolves.toBe(first);
  await expect(page.locator('[data-group-status="held"] [data-state]').getAttribute('data-state')).resolves.toBe('processing');
  // At 400 px the partitioned group page does not scroll sideways.
  const narrow = await browser.newPage({ viewport: { width: 400, height: 900 } });
  watch(narrow);
  try {
    await open(narrow, rw.url, '#/g/parted/held');
    await narrow.waitForSelector('[data-testid="group-partitions"]');
    expect(await narrow.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBeLessThanOrEqual(0);
  } finally {
    await narrow.close();
  }
});

test('event: the trace id from its traceparent header; a malformed (hostile) one is shown as text', async () => {
  const traced = defineTopic('traced');
  const good = await f.sf.publish(traced, { a: 1 }, { headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' } });
  const bad = await f.sf.publish(traced, { a: 2 }, { headers: { traceparent: '<img src=x onerror="window.__pwned=7">' } });
  await open(page, rw.url, `#/e/traced/${good}`);
  await page.waitForSelector('[data-testid="trace-id"]');
  await expect(page.getByTestId('trace-id').textContent()).resolves.toBe('4bf92f3577b34da6a3ce929d0e0e4736');
  await expect(page.getByTestId('trace-span').textContent()).resolves.toBe('00f067aa0ba902b7 (sampled)');
  await open(page, rw.url, `#/e/traced/${bad}`);
  await page.waitForSelector('[data-testid="trace-invalid"]');
  await expect(page.getByTestId('trace-invalid').textContent()).resolves.toContain('<img src=x onerror=');
  expect(await page.locator('#view img').count()).toBe(0);
  expect(await pwned(page)).toBeUndefined();
});

test('no console errors on any page (besides the refusals the tests asked for)', () => {
  const unexpected = problems.filter((m) => !expectedFailures.some((re) => re.test(m)));
  expect(unexpected).toEqual([]);
});
