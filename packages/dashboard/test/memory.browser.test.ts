import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startDashboard, type RunningDashboard } from '../src';
import { HOSTILE, startFixture, type Fixture } from './fixture';

jest.setTimeout(120_000);

/** The Memory view in a real browser: the figures of /api/memory (streamfan memory), names as text. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
let f: Fixture;
let dash: RunningDashboard;
let browser: Browser;
let page: Page;
const problems: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install it or set CHROMIUM_PATH`);
  f = await startFixture();
  dash = await startDashboard({ client: f.sf, port: 0, intervalMs: 400, memoryEveryMs: 60_000 });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(20_000);
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(e.message));
});
afterAll(async () => {
  await browser?.close();
  await dash?.close();
  await f?.stop();
});

test('overview → Redis memory: one row per topic and kind with the API\'s bytes; a topic page links to its own', async () => {
  await page.goto(`${dash.url}#/`);
  await page.waitForSelector('[data-testid="memory-link"]');
  await page.click('[data-testid="memory-link"]');
  await page.waitForSelector('[data-testid="memory"] tbody tr[data-kind]');
  const api = (await (await fetch(new URL('api/memory', dash.url))).json()) as { topics: Array<{ topic: string; kinds: Array<{ kind: string; bytes: number; keys: number }> }> };
  const rows = await page.$$eval('[data-testid="memory"] tbody tr[data-kind]', (trs) => trs.map((tr) => ({
    topic: tr.getAttribute('data-topic'),
    kind: tr.getAttribute('data-kind'),
    bytes: Number(tr.querySelector('[data-k="bytes"]')!.getAttribute('data-bytes')),
  })));
  const orders = api.topics.find((t) => t.topic === 'orders')!;
  for (const k of orders.kinds.filter((x) => x.keys > 0)) {
    expect(rows).toContainEqual({ topic: 'orders', kind: k.kind, bytes: k.bytes });
  }
  // The hostile topic's name is a row's text, never markup.
  expect(rows.some((r) => r.topic === HOSTILE.topic)).toBe(true);
  expect(await page.evaluate(() => (window as unknown as { __pwned?: unknown }).__pwned)).toBeUndefined();
  expect(await page.textContent('[data-testid="memory-scan"]')).toContain('covered the whole keyspace');
  const shots = join(__dirname, '..', '..', '..', 'docs', 'dashboard');
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: join(shots, 'memory.png'), fullPage: true });

  await page.goto(`${dash.url}#/t/orders`);
  await page.waitForSelector('[data-testid="topic-memory-link"]');
  await page.click('[data-testid="topic-memory-link"]');
  await page.waitForSelector('[data-testid="memory"] tbody tr[data-kind]');
  const topics = await page.$$eval('[data-testid="memory"] tbody tr[data-kind]', (trs) => [...new Set(trs.map((tr) => tr.getAttribute('data-topic')))]);
  expect(topics).toEqual(['orders']);
  expect(problems).toEqual([]);
});
