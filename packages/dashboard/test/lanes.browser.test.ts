import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { defineTopic, laneKeys, Streamfan } from '@streamfan/core/internal';
import { startRedis, uniquePrefix, type RedisServer } from '@streamfan/testing';
import { startDashboard, type RunningDashboard } from '../src';

jest.setTimeout(120_000);

/** A prioritized topic on the overview in a real browser: its lanes with their lengths, and each group's backlog per lane. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = join(__dirname, '..', '..', '..', 'docs', 'dashboard');
const emails = defineTopic<{ n: number }>('emails', { priorities: ['high', 'normal', 'low'], defaultPriority: 'normal' });
let redis: RedisServer;
let sf: Streamfan;
let dash: RunningDashboard;
let browser: Browser;
let page: Page;
const problems: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install it or set CHROMIUM_PATH`);
  redis = await startRedis();
  sf = new Streamfan({ connection: redis.url, prefix: uniquePrefix('dashlb'), retention: false });
  const sub = sf.subscribe(emails, 'sender', () => undefined, { startFrom: 'beginning', blockMs: 50 });
  await sub.ready();
  await sub.close();
  await sf.publishMany(emails, [{ n: 1 }, { n: 2 }], { priority: 'high' });
  await sf.publishMany(emails, [{ n: 3 }, { n: 4 }, { n: 5 }], { priority: 'low' });
  await sf.publish(emails, { n: 6 });
  // "held": every entry of every lane read by a consumer that never acks (pending in each lane).
  for (const lane of ['high', 'normal', 'low']) {
    const stream = laneKeys(sf.prefix, 'emails', lane, 'normal').stream;
    await sf.redis.xgroup('CREATE', stream, 'held', '0');
    await sf.redis.xreadgroup('GROUP', 'held', 'crashed-worker', 'COUNT', 100, 'STREAMS', stream, '>');
  }
  dash = await startDashboard({ client: sf, port: 0, intervalMs: 400 });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(20_000);
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(e.message));
});
afterAll(async () => {
  await browser?.close();
  await dash?.close();
  await sf?.close();
  await redis?.stop();
});

test('overview: a prioritized topic shows its lanes (default marked) and each group backlog per lane; a lane opens its page', async () => {
  await page.goto(`${dash.url}#/`);
  const card = page.locator('[data-topic="emails"]');
  await card.locator('[data-testid="lanes"] [data-lane="low"]').waitFor();
  expect(await card.getByTestId('lanes-badge').textContent()).toBe('3 lanes');
  expect(await card.locator('[data-testid="lanes"] [data-lane]').allTextContents()).toEqual(['high · 2', 'normal* · 1', 'low · 3']);
  expect(await card.getByTestId('topic-length').textContent()).toBe('6');
  expect(await card.locator('tr[data-group="sender"] [data-testid="group-lanes"]').textContent()).toBe('high 2 · normal 1 · low 3');
  await card.locator('[data-testid="lanes"] [data-lane="high"]').click();
  await page.waitForFunction(() => location.hash === `#/t/${encodeURIComponent('emails+high')}`);
  await page.getByTestId('topic-title').waitFor();
  expect(problems).toEqual([]);
});

test('topic page and group page of a prioritized topic: one row per lane, events of every lane with their lane', async () => {
  await page.goto(`${dash.url}#/t/emails`);
  await page.locator('[data-testid="lanes"] tr[data-lane="low"]').waitFor();
  expect(await page.getByTestId('lanes-badge').textContent()).toBe('3 lanes');
  expect(await page.locator('[data-testid="lanes"] tr[data-lane] [data-k="length"]').allTextContents()).toEqual(['2', '1', '3']);
  expect(await page.locator('[data-testid="lanes"] tr[data-lane="low"] [data-group-cell="sender"]').textContent()).toBe('3 · 0');
  const lanes = await page.locator('[data-testid="matrix"] [data-k="lane"]').allTextContents();
  expect(lanes.sort()).toEqual(['high', 'high', 'low', 'low', 'low', 'normal']);
  // A high event opens by its lane id.
  const highId = await page.locator('[data-testid="matrix"] tr:has(td[data-k="lane"]:text-is("high")) a').first().textContent();
  expect(highId).toMatch(/^high:\d+-\d+$/);
  await page.goto(`${dash.url}#/e/emails/${encodeURIComponent(highId!)}`);
  expect(await page.getByTestId('event-lane').textContent()).toBe('high');
  expect(await page.getByTestId('event-title').textContent()).toBe(highId);

  await page.goto(`${dash.url}#/g/emails/sender`);
  await page.locator('[data-testid="group-lanes"] tr[data-lane="low"]').waitFor();
  expect(await page.locator('[data-testid="group-lanes"] tr[data-lane] [data-k="lag"]').allTextContents()).toEqual(['2', '1', '3']);
  expect(await page.getByTestId('lanes-badge').textContent()).toBe('3 lanes, summed');
  // The default lane has its own page too.
  await page.locator('[data-testid="group-lanes"] tr[data-lane="normal"] a').click();
  await page.waitForFunction(() => location.hash === `#/g/${encodeURIComponent('emails+normal')}/sender`);
  await page.getByTestId('lane-badge').waitFor();
  expect(await page.getByTestId('lane-badge').textContent()).toBe('lane normal');
  expect(problems).toEqual([]);
});

test('memory page: a prioritized topic\'s memory by lane (default marked, shared keys apart), the API\'s bytes', async () => {
  await page.goto(`${dash.url}#/memory/emails`);
  await page.locator('[data-testid="memory-lanes"] tr[data-lane="*"]').waitFor();
  const api = (await (await fetch(new URL('api/memory?topic=emails', dash.url))).json()) as { topics: Array<{ byLane: Array<{ lane: string; bytes: number }>; laneShared: { bytes: number } }> };
  const rows = await page.$$eval('[data-testid="memory-lanes"] tbody tr', (trs) => trs.map((tr) => [tr.getAttribute('data-lane'), tr.children[1]!.textContent, Number(tr.querySelector('[data-k="bytes"]')!.getAttribute('data-bytes'))]));
  expect(rows).toEqual([
    ...api.topics[0]!.byLane.map((l) => [l.lane, l.lane === 'normal' ? 'normal*' : l.lane, l.bytes]),
    ['*', '(shared)', api.topics[0]!.laneShared.bytes],
  ]);
  expect(await page.locator('[data-testid="memory-lanes"] tr[data-lane="low"] [data-k="entries"]').textContent()).toBe('3');
  expect(problems).toEqual([]);
});

test('group page of a prioritized topic with pending entries in every lane: lane column, highest lane first (screenshot)', async () => {
  await page.goto(`${dash.url}#/g/emails/held`);
  await page.locator('[data-testid="pending"] tbody tr[data-id]').first().waitFor();
  expect(await page.locator('[data-testid="group-lanes"] tr[data-lane] [data-k="pending"]').allTextContents()).toEqual(['2', '1', '3']);
  expect(await page.locator('[data-testid="pending"] tbody [data-k="lane"]').allTextContents()).toEqual(['high', 'high', 'normal', 'low', 'low', 'low']);
  const ids = await page.locator('[data-testid="pending"] tbody tr[data-id]').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-id')));
  expect(ids.filter((id) => /^(high|low):/.test(id!))).toHaveLength(5);
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, 'group-laned.png'), fullPage: true });
  expect(problems).toEqual([]);
});
