import type { IncomingMessage } from 'node:http';
import { DEFAULT_PRIORITY, LIMITS, PRIORITIES, SIGNUP_KINDS, isGroupName, isPriority, isSignupKind, type GroupName, type GroupSettings } from '../config';
import type { Demo } from '../demo';
import { BadRequest, NotFound } from './errors';
import { boolField, checkEventId, idsField, intField, numberField, onlyFields, readJson } from './validate';

/** What a route handler gets. */
export interface RouteContext {
  demo: Demo;
  req: IncomingMessage;
  params: Record<string, string>;
  query: URLSearchParams;
}

/** One API route: method, path pattern with `:params`, handler returning a JSON value. */
export interface Route {
  method: 'GET' | 'POST';
  path: string;
  handle(ctx: RouteContext): Promise<unknown>;
}

function group(ctx: RouteContext): GroupName {
  const g = ctx.params.group!;
  if (!isGroupName(g)) throw new NotFound(`no group "${g}": the groups are email, billing and analytics`);
  return g;
}

async function emptyBody(ctx: RouteContext): Promise<void> {
  onlyFields(await readJson(ctx.req), []);
}

function limitParam(ctx: RouteContext): number | undefined {
  const raw = ctx.query.get('limit');
  if (raw === null) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new BadRequest(`limit must be a whole number from 1 to 1000, got ${JSON.stringify(raw)}`);
  return n;
}

/** Every API route. The page uses them all; so can curl (send Content-Type: application/json on POST). */
export const routes: Route[] = [
  { method: 'GET', path: '/api/state', handle: ({ demo }) => demo.snapshot() },
  {
    method: 'POST', path: '/api/publish',
    async handle(ctx) {
      const body = await readJson(ctx.req);
      onlyFields(body, ['count', 'kind', 'delaySeconds', 'priority']);
      const count = intField(body, 'count', LIMITS.publishCount, true)!;
      const kind = body.kind ?? 'free';
      if (!isSignupKind(kind)) throw new BadRequest(`"kind" must be one of ${SIGNUP_KINDS.join(', ')}, got ${JSON.stringify(kind)}`);
      const delaySeconds = intField(body, 'delaySeconds', LIMITS.delaySeconds) ?? 0;
      const priority = body.priority === undefined ? DEFAULT_PRIORITY : body.priority;
      if (!isPriority(priority)) throw new BadRequest(`"priority" must be one of ${PRIORITIES.join(', ')} (the lanes of user.signup), got ${JSON.stringify(priority)}`);
      const { ids, delayed } = await ctx.demo.publish(count, kind, delaySeconds, priority);
      return { published: ids.length, delayed, priority, ids };
    },
  },
  {
    method: 'POST', path: '/api/orders',
    async handle(ctx) {
      const body = await readJson(ctx.req);
      onlyFields(body, ['rounds']);
      const rounds = intField(body, 'rounds', { min: 1, max: 50 }) ?? 1;
      const { ids } = await ctx.demo.publishOrders(rounds);
      return { published: ids.length, ids };
    },
  },
  {
    method: 'POST', path: '/api/groups/:group',
    async handle(ctx) {
      const g = group(ctx);
      const body = await readJson(ctx.req);
      onlyFields(body, ['workers', 'latencyMs', 'failureRate', 'hangRate', 'maxAttempts', 'running']);
      const patch: Partial<GroupSettings> = {};
      const workers = intField(body, 'workers', LIMITS.workers);
      const latencyMs = intField(body, 'latencyMs', LIMITS.latencyMs);
      const failureRate = numberField(body, 'failureRate', LIMITS.failureRate);
      const hangRate = numberField(body, 'hangRate', LIMITS.hangRate);
      const maxAttempts = intField(body, 'maxAttempts', LIMITS.maxAttempts);
      const running = boolField(body, 'running');
      if (workers !== undefined) patch.workers = workers;
      if (latencyMs !== undefined) patch.latencyMs = latencyMs;
      if (failureRate !== undefined) patch.failureRate = failureRate;
      if (hangRate !== undefined) patch.hangRate = hangRate;
      if (maxAttempts !== undefined) patch.maxAttempts = maxAttempts;
      if (running !== undefined) patch.running = running;
      if (Object.keys(patch).length === 0) throw new BadRequest('nothing to change: give workers, latencyMs, failureRate, hangRate, maxAttempts or running');
      return { group: g, settings: await ctx.demo.updateGroup(g, patch) };
    },
  },
  {
    method: 'POST', path: '/api/groups/:group/start',
    async handle(ctx) { const g = group(ctx); await emptyBody(ctx); return { group: g, settings: await ctx.demo.updateGroup(g, { running: true }) }; },
  },
  {
    method: 'POST', path: '/api/groups/:group/stop',
    async handle(ctx) { const g = group(ctx); await emptyBody(ctx); return { group: g, settings: await ctx.demo.updateGroup(g, { running: false }) }; },
  },
  {
    method: 'POST', path: '/api/groups/:group/crash',
    async handle(ctx) {
      const g = group(ctx);
      const body = await readJson(ctx.req);
      onlyFields(body, ['count']);
      const n = intField(body, 'count', LIMITS.crashNext) ?? 1;
      return { group: g, crashNext: await ctx.demo.crashNext(g, n) };
    },
  },
  {
    method: 'GET', path: '/api/groups/:group/pending',
    async handle(ctx) { const g = group(ctx); return { group: g, entries: await ctx.demo.pending(g, limitParam(ctx)) }; },
  },
  {
    method: 'POST', path: '/api/groups/:group/reclaim',
    async handle(ctx) {
      const g = group(ctx);
      const body = await readJson(ctx.req);
      onlyFields(body, ['ids']);
      return { group: g, ...(await ctx.demo.reclaim(g, idsField(body))) };
    },
  },
  {
    method: 'GET', path: '/api/groups/:group/dead-letters',
    async handle(ctx) { const g = group(ctx); return { group: g, deadLetters: await ctx.demo.deadLetters(g, limitParam(ctx)) }; },
  },
  {
    method: 'POST', path: '/api/groups/:group/dead-letters/replay',
    async handle(ctx) {
      const g = group(ctx);
      const body = await readJson(ctx.req);
      onlyFields(body, ['ids']);
      return { group: g, replayed: await ctx.demo.replay(g, idsField(body)) };
    },
  },
  {
    method: 'POST', path: '/api/groups/:group/dead-letters/purge',
    async handle(ctx) {
      const g = group(ctx);
      const body = await readJson(ctx.req);
      onlyFields(body, ['ids']);
      return { group: g, purged: await ctx.demo.purge(g, idsField(body)) };
    },
  },
  { method: 'GET', path: '/api/events/:id', handle: (ctx) => ctx.demo.event(checkEventId(ctx.params.id!)) },
  { method: 'POST', path: '/api/trim', async handle(ctx) { await emptyBody(ctx); return ctx.demo.trim(); } },
  { method: 'POST', path: '/api/reset', async handle(ctx) { await emptyBody(ctx); await ctx.demo.reset(); return { reset: true }; } },
];

/** Match a path against `/a/:b/c`; returns the params or undefined. Params are URI-decoded. */
export function matchPath(pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split('/');
  const got = path.split('/');
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    const g = got[i]!;
    if (w.startsWith(':')) {
      if (g === '') return undefined;
      try { params[w.slice(1)] = decodeURIComponent(g); } catch { throw new BadRequest(`path segment ${JSON.stringify(g)} is not valid percent-encoding`); }
    } else if (w !== g) {
      return undefined;
    }
  }
  return params;
}
