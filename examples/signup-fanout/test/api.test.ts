import { waitFor } from '@streamfan/testing';
import type { Snapshot } from '../src/snapshot';
import { call, startDemo, type RunningDemo } from './helpers';

jest.setTimeout(90_000);

let run: RunningDemo;
beforeAll(async () => { run = await startDemo(); });
afterAll(async () => { await run?.stop(); });

const get = (path: string) => call(run.url, 'GET', path);
const post = (path: string, body: unknown = {}, headers: Record<string, string> = {}) => call(run.url, 'POST', path, body, headers);
async function state(): Promise<Snapshot> {
  const r = await get('/api/state');
  expect(r.status).toBe(200);
  return r.body as Snapshot;
}
const group = (s: Snapshot, name: string) => s.groups.find((g) => g.name === name)!;

/** Wait until every group processed `n` events. */
async function allProcessed(n: number): Promise<Snapshot> {
  let last: Snapshot | undefined;
  await waitFor(async () => {
    last = await state();
    return last.groups.every((g) => g.stats.processed === n);
  }, { timeoutMs: 45_000, intervalMs: 150, message: `every group processed ${n}` });
  return last!;
}

function expectError(r: { status: number; body: any }, status: number, pattern?: RegExp): void { // eslint-disable-line @typescript-eslint/no-explicit-any -- any response body
  expect(r.status).toBe(status);
  expect(typeof r.body.error).toBe('string');
  expect(typeof r.body.code).toBe('string');
  if (pattern) expect(r.body.error).toMatch(pattern);
}

describe('static page', () => {
  test('serves the page, its script, styles and icon; other methods get 405', async () => {
    const page = await get('/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(page.body).toContain('<script src="/app.js">');
    expect((await get('/app.js')).headers.get('content-type')).toMatch(/javascript/);
    expect((await get('/styles.css')).headers.get('content-type')).toMatch(/text\/css/);
    expect((await get('/favicon.svg')).status).toBe(200);
    expectError(await post('/'), 405);
  });

  test('unknown routes get a JSON 404, wrong methods a 405 with Allow', async () => {
    expectError(await get('/nope'), 404, /no route GET \/nope/);
    expectError(await get('/api/nope'), 404);
    const r = await get('/api/publish');
    expectError(r, 405, /use POST/);
    expect(r.headers.get('allow')).toBe('POST');
    expectError(await post('/api/state'), 405);
    expectError(await post('/api/stream'), 405);
  });
});

describe('GET /api/state and /api/stream', () => {
  test('state has the three groups with settings, stats and panels', async () => {
    const s = await state();
    expect(s.topic).toBe('user.signup');
    expect(s.visibilityTimeoutMs).toBe(3000);
    expect(s.groups.map((g) => g.name)).toEqual(['email', 'billing', 'analytics']);
    for (const g of s.groups) {
      expect(g.settings.running).toBe(true);
      expect(g.workers.length).toBe(g.settings.workers);
      // Redis creates a consumer at its first delivery, so it knows at most the workers.
      expect(g.stats.consumers).toBeLessThanOrEqual(g.settings.workers);
      expect(Array.isArray(g.pending)).toBe(true);
      expect(Array.isArray(g.deadLetters)).toBe(true);
      expect(g.series).toHaveLength(60);
    }
  });

  test('the stream sends snapshots as Server-Sent Events', async () => {
    const ac = new AbortController();
    const res = await fetch(new URL('/api/stream', run.url), { signal: ac.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    while (!/^data: .*\n\n/m.test(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString('utf8');
    }
    ac.abort();
    const line = text.split('\n').find((l) => l.startsWith('data: '))!;
    const snap = JSON.parse(line.slice(6)) as Snapshot;
    expect(snap.groups).toHaveLength(3);
  });
});

describe('POST /api/publish', () => {
  test('publishes N events that every group processes, with results in the status', async () => {
    const before = (await state()).totals.published;
    const r = await post('/api/publish', { count: 12, kind: 'pro' });
    expect(r.status).toBe(200);
    expect(r.body.published).toBe(12);
    expect(r.body.ids).toHaveLength(12);
    const s = await allProcessed(before + 12);
    expect(s.totals.published).toBe(before + 12);
    const row = s.events.find((e) => e.eventId === r.body.ids[0])!;
    expect(row.groups).toEqual({
      email: { state: 'succeeded', attempts: 1 }, billing: { state: 'succeeded', attempts: 1 }, analytics: { state: 'succeeded', attempts: 1 },
    });
    const ev = await get(`/api/events/${r.body.ids[0]}`);
    expect(ev.status).toBe(200);
    expect(ev.body.payload).toMatchObject({ plan: 'pro' });
    expect(ev.body.groups.billing).toMatchObject({ state: 'succeeded', attempts: 1, result: { amountCents: 1900 } });
    expect(ev.body.groups.email.result).toMatchObject({ sent: 'welcome-pro' });
  });

  test('a delayed publish is scheduled, then handled when due', async () => {
    const before = (await state()).totals.published;
    const r = await post('/api/publish', { count: 2, kind: 'free', delaySeconds: 1 });
    expect(r.status).toBe(200);
    expect(r.body.delayed).toBe(true);
    expect(r.body.ids[0]).toMatch(/^delayed-/);
    const s = await state();
    expect(s.events[0]!.groups.email!.state).toBe('scheduled');
    await allProcessed(before + 2);
    await waitFor(async () => (await state()).events.slice(0, 2).every((e) => e.eventId !== null && e.groups.billing!.state === 'succeeded'), { timeoutMs: 10_000, message: 'delayed rows followed to their stream ids' });
  });

  test.each([
    [{ count: 0 }, /count.*1 to 500/],
    [{ count: 501 }, /count.*1 to 500/],
    [{ count: 2.5 }, /whole number/],
    [{ count: '10' }, /whole number/],
    [{}, /"count" is required/],
    [{ count: 1, kind: 'vip' }, /kind.*free, pro, team, card-declined/],
    [{ count: 1, delaySeconds: -1 }, /delaySeconds/],
    [{ count: 1, delaySeconds: 3601 }, /delaySeconds/],
    [{ count: 1, colour: 'red' }, /unknown field "colour"/],
  ])('bad body %j gets 400', async (body, pattern) => {
    expectError(await post('/api/publish', body), 400, pattern);
  });

  test('malformed JSON, a non-object, no JSON content type and a huge body are refused', async () => {
    expectError(await post('/api/publish', '{"count": 1'), 400, /not valid JSON/);
    expectError(await post('/api/publish', '[1,2]'), 400, /JSON object/);
    expectError(await post('/api/publish', 'null'), 400, /JSON object/);
    expectError(await post('/api/publish', 'count=1', { 'content-type': 'application/x-www-form-urlencoded' }), 415, /application\/json/);
    expectError(await post('/api/publish', JSON.stringify({ count: 1, pad: 'x'.repeat(100_000) })), 413);
    // Still serving after all that.
    expect((await get('/api/state')).status).toBe(200);
  });
});

describe('POST /api/groups/:group', () => {
  test('changes knobs and resizes the pool', async () => {
    const r = await post('/api/groups/analytics', { workers: 6, latencyMs: 20, failureRate: 0.1, hangRate: 0 });
    expect(r.status).toBe(200);
    expect(r.body.settings).toMatchObject({ workers: 6, latencyMs: 20, failureRate: 0.1 });
    await waitFor(async () => group(await state(), 'analytics').workers.filter((w) => w.state === 'idle' || w.state === 'busy').length === 6, { timeoutMs: 10_000, message: '6 workers reading' });
    const before = (await state()).totals.published;
    await post('/api/publish', { count: 30, kind: 'free' });
    await allProcessed(before + 30);
    // Workers share a group's events: several of them did some, none did them all.
    const done = group(await state(), 'analytics').workers.map((w) => w.processed);
    expect(done.filter((n) => n > 0).length).toBeGreaterThan(1);
    const back = await post('/api/groups/analytics', { workers: 4, failureRate: 0 });
    expect(back.body.settings.workers).toBe(4);
    expect(group(await state(), 'analytics').workers.filter((w) => w.state !== 'crashed')).toHaveLength(4);
  });

  test.each([
    [{ workers: 17 }, /workers.*0 to 16/],
    [{ workers: -1 }, /workers/],
    [{ latencyMs: 10_001 }, /latencyMs/],
    [{ failureRate: 1.5 }, /failureRate.*0 to 1/],
    [{ hangRate: 'often' }, /hangRate/],
    [{ maxAttempts: 0 }, /maxAttempts.*1 to 20/],
    [{ running: 'yes' }, /running.*true or false/],
    [{}, /nothing to change/],
    [{ speed: 3 }, /unknown field "speed"/],
  ])('bad settings %j get 400', async (body, pattern) => {
    expectError(await post('/api/groups/email', body), 400, pattern);
  });

  test('unknown group gets 404 on every group route', async () => {
    for (const path of ['/api/groups/sms', '/api/groups/sms/start', '/api/groups/sms/stop', '/api/groups/sms/crash', '/api/groups/sms/reclaim', '/api/groups/sms/dead-letters/replay', '/api/groups/sms/dead-letters/purge']) {
      expectError(await post(path, {}), 404, /no group "sms"/);
    }
    expectError(await get('/api/groups/sms/pending'), 404);
    expectError(await get('/api/groups/sms/dead-letters'), 404);
    expectError(await get('/api/groups/%E0%A4%A/pending'), 400, /percent-encoding/);
  });
});

describe('start and stop', () => {
  test('a stopped group lags while the others go on; started, it catches up', async () => {
    const stop = await post('/api/groups/billing/stop');
    expect(stop.status).toBe(200);
    expect(stop.body.settings.running).toBe(false);
    expect(group(await state(), 'billing').workers).toHaveLength(0);
    const before = (await state()).totals.published;
    await post('/api/publish', { count: 5, kind: 'team' });
    await waitFor(async () => {
      const s = await state();
      return group(s, 'email').stats.processed === before + 5 && group(s, 'analytics').stats.processed === before + 5;
    }, { timeoutMs: 20_000, message: 'email and analytics handled the 5 events' });
    const s = await state();
    expect(group(s, 'billing').stats.processed).toBe(before);
    expect(group(s, 'billing').stats.lag).toBe(5);
    const start = await post('/api/groups/billing/start');
    expect(start.body.settings.running).toBe(true);
    await allProcessed(before + 5);
    expectError(await post('/api/groups/billing/start', { now: true }), 400, /unknown field/);
  });
});

describe('crash, pending and automatic reclaim', () => {
  test('a crashed delivery shows as pending under the crashed worker, then another worker takes it over', async () => {
    const r = await post('/api/groups/email/crash', { count: 1 });
    expect(r.status).toBe(200);
    expect(r.body.crashNext).toBe(1);
    const before = (await state()).totals.published;
    const pub = await post('/api/publish', { count: 1, kind: 'free' });
    const id = pub.body.ids[0] as string;
    const held = await waitFor(async () => {
      const p = await get('/api/groups/email/pending');
      expect(p.status).toBe(200);
      return (p.body.entries as Array<{ eventId: string; owner: string; consumer: string; deliveries: number }>).find((e) => e.eventId === id && e.owner === 'crashed');
    }, { timeoutMs: 10_000, message: 'the event pending under a crashed worker' });
    expect(held.deliveries).toBe(1);
    const ev = await get(`/api/events/${id}`);
    expect(ev.body.groups.email).toMatchObject({ state: 'processing', consumer: held.consumer, heldByCrashedWorker: true });
    const s = await allProcessed(before + 1);
    expect(group(s, 'email').stats.crashes).toBeGreaterThanOrEqual(1);
    expect(group(s, 'email').stats.takeovers).toBeGreaterThanOrEqual(1);
    expect(group(s, 'email').stats.reclaimed).toBeGreaterThanOrEqual(1);
    const after = await get(`/api/events/${id}`);
    expect(after.body.groups.email.state).toBe('succeeded');
    expect(after.body.groups.email.attempts).toBe(2);
    expect(after.body.groups.email.consumer).not.toBe(held.consumer);
    expect(s.activity.some((a) => a.kind === 'takeover' && a.text.includes(id))).toBe(true);
  });

  test('bad crash, pending and reclaim requests', async () => {
    expectError(await post('/api/groups/email/crash', { count: 0 }), 400);
    expectError(await post('/api/groups/email/crash', { count: 101 }), 400);
    expectError(await get('/api/groups/email/pending?limit=0'), 400, /limit/);
    expectError(await get('/api/groups/email/pending?limit=abc'), 400, /limit/);
    expectError(await post('/api/groups/email/reclaim', { ids: ['nope'] }), 400, /not stream ids/);
    expectError(await post('/api/groups/email/reclaim', { ids: [] }), 400);
    expectError(await post('/api/groups/email/reclaim', { ids: '1-0' }), 400);
    expectError(await post('/api/groups/email/reclaim', { ids: ['1-0'] }), 404, /not pending/);
    const ok = await post('/api/groups/email/reclaim', {});
    expect(ok.status).toBe(200);
    expect(Array.isArray(ok.body.reclaimed)).toBe(true);
  });
});

describe('dead letters', () => {
  test('events that exhaust their attempts are listed, replayed to their group only, and purged', async () => {
    await post('/api/groups/billing', { failureRate: 1, maxAttempts: 2 });
    const before = (await state()).totals.published;
    const pub = await post('/api/publish', { count: 3, kind: 'pro' });
    await waitFor(async () => group(await state(), 'billing').stats.deadLetters === 3, { timeoutMs: 30_000, message: '3 dead letters in billing' });
    const list = await get('/api/groups/billing/dead-letters');
    expect(list.status).toBe(200);
    expect(list.body.deadLetters).toHaveLength(3);
    expect(list.body.deadLetters[0]).toMatchObject({ reason: 'attempts', attempts: 2, plan: 'pro' });
    expect(list.body.deadLetters[0].error).toMatch(/simulated failure/);
    const ev = await get(`/api/events/${pub.body.ids[0]}`);
    expect(ev.body.groups.billing.state).toBe('dead');
    expect(ev.body.groups.email.state).toBe('succeeded');

    await post('/api/groups/billing', { failureRate: 0, maxAttempts: 5 });
    const one = list.body.deadLetters[0].deadLetterId as string;
    const replay = await post('/api/groups/billing/dead-letters/replay', { ids: [one] });
    expect(replay.status).toBe(200);
    expect(replay.body.replayed).toBe(1);
    await waitFor(async () => group(await state(), 'billing').stats.processed === before + 1, { timeoutMs: 20_000, message: 'the replayed event handled by billing' });
    await waitFor(async () => group(await state(), 'email').stats.processed === before + 3, { timeoutMs: 20_000, message: 'email handled the 3 events' });
    expect(group(await state(), 'email').stats.processed).toBe(before + 3); // once each: the replay went to billing only

    const purgeOne = await post('/api/groups/billing/dead-letters/purge', { ids: [list.body.deadLetters[1].deadLetterId] });
    expect(purgeOne.body.purged).toBe(1);
    const rest = await post('/api/groups/billing/dead-letters/replay', {});
    expect(rest.body.replayed).toBe(1);
    await waitFor(async () => group(await state(), 'billing').stats.processed === before + 2, { timeoutMs: 20_000, message: 'the last dead letter replayed and handled' });
    expect(group(await state(), 'billing').stats.deadLetters).toBe(0);
    const purgeAll = await post('/api/groups/billing/dead-letters/purge', {});
    expect(purgeAll.body.purged).toBe(0);
  });

  test('a declined card is dead-lettered by billing at once, on request', async () => {
    const pub = await post('/api/publish', { count: 1, kind: 'card-declined' });
    const id = pub.body.ids[0] as string;
    await waitFor(async () => (await get(`/api/events/${id}`)).body.groups?.billing?.state === 'dead', { timeoutMs: 15_000, message: 'billing dead-lettered the declined card' });
    const ev = await get(`/api/events/${id}`);
    expect(ev.body.groups.billing).toMatchObject({ attempts: 1 });
    expect(ev.body.groups.billing.error).toMatch(/card declined/);
    const dl = await get('/api/groups/billing/dead-letters');
    expect(dl.body.deadLetters.find((d: { id: string }) => d.id === id)).toMatchObject({ reason: 'handler' });
    expect((await post('/api/groups/billing/dead-letters/purge', {})).body.purged).toBe(1);
  });

  test('bad dead-letter requests', async () => {
    expectError(await get('/api/groups/billing/dead-letters?limit=1001'), 400);
    expectError(await post('/api/groups/billing/dead-letters/replay', { ids: ['x'] }), 400);
    expectError(await post('/api/groups/billing/dead-letters/purge', { ids: [1] }), 400);
    expectError(await post('/api/groups/billing/dead-letters/purge', { all: true }), 400, /unknown field/);
  });
});

describe('GET /api/events/:id', () => {
  test('unknown ids get 404, malformed ones 400', async () => {
    expectError(await get('/api/events/1-0'), 404, /not found/);
    expectError(await get('/api/events/hello'), 400, /not an event id/);
    expectError(await get('/api/events/delayed-nope'), 400);
    expectError(await get('/api/events/%E0%A4%A'), 400);
  });
});

describe('trim and reset', () => {
  test('trim removes only what every group acknowledged', async () => {
    const before = await state();
    const r = await post('/api/trim');
    expect(r.status).toBe(200);
    expect(r.body.removed + r.body.length).toBe(before.totals.streamLength);
    expect(r.body.lostToCap).toBe(0);
    expect((await state()).totals.streamLength).toBe(r.body.length);
    expectError(await post('/api/trim', { maxLen: 1 }), 400, /unknown field/);
  });

  test('reset clears events, counters and dead letters and restores the defaults', async () => {
    await post('/api/groups/email', { workers: 1, latencyMs: 500 });
    const r = await post('/api/reset');
    expect(r.status).toBe(200);
    const s = await state();
    expect(s.totals).toEqual({ published: 0, streamLength: 0, delayed: 0, lanes: [{ lane: 'high', length: 0 }, { lane: 'normal', length: 0 }, { lane: 'low', length: 0 }] });
    expect(s.events).toHaveLength(0);
    expect(group(s, 'email').settings).toMatchObject({ workers: 3, latencyMs: 150 });
    for (const g of s.groups) expect(g.stats).toMatchObject({ processed: 0, retries: 0, deadLetters: 0, pending: 0, crashes: 0 });
    await post('/api/publish', { count: 3, kind: 'free' });
    await allProcessed(3);
    expectError(await post('/api/reset', { hard: true }), 400);
  });
});
