import type { IncomingMessage, ServerResponse } from 'node:http';
import { ASSET_TEXT } from './assets.generated';
import type { RedisOptions } from 'ioredis';
import { defineTopic, InvalidOptionError, Streamfan, StreamfanError, type Topic } from '@streamfan/core/internal';
import { MemoryReports } from './memory';
import { overview, RateSampler } from './overview';
import { deadLetterPage, eventPage, groupPage, parseHome, partitionCount, partitionedGroupPage, pendingRows, pid, retryPage, search, splitPartitionedId, StreamDirectory, topicMeta, topicPage, type StreamRef } from './queries';
import { lanedDeadLetterPage, lanedGroupPage, lanedPendingRows, lanedTopic, resolveLane, splitLaneEventId } from './lanes';
import { checkAccess, checkCsrf, DashboardHttpError, randomToken, sameSecret, TOKEN_COOKIE } from './security';

/** Options of {@link createDashboard}. */
export interface DashboardOptions {
  /** A streamfan client to read through (its prefix is used). Give this or `url`. */
  client?: Streamfan;
  /** Redis URL, when no `client` is given: the dashboard opens (and closes) its own client. */
  url?: string;
  /** Extra ioredis options for the dashboard's own client (e.g. `{ tls: { ca } }`). */
  redisOptions?: RedisOptions;
  /** Key prefix, when no `client` is given. @defaultValue 'streamfan' */
  prefix?: string;
  /**
   * Allow actions that change data: claim, ack, replay and purge dead letters. Without it the
   * dashboard is read-only and every action answers 403. @defaultValue false
   */
  allowActions?: boolean;
  /**
   * A secret every request must present (opened once as `<url>?token=…`, then kept in an
   * HttpOnly cookie; or `Authorization: Bearer …`). Without a token or an `auth` hook the
   * dashboard answers only requests made to a loopback address.
   */
  token?: string;
  /**
   * Path the handler is mounted under when the framework does not strip it (plain Node HTTP,
   * a Fastify route), e.g. '/ops/streamfan'. Express' `app.use(path, handler)` strips it itself.
   * @defaultValue ''
   */
  basePath?: string;
  /**
   * The application's own check, run on every request (e.g. its session): false answers 401.
   * With it, the dashboard may be served beyond loopback without a token.
   */
  auth?: (req: IncomingMessage) => boolean | Promise<boolean>;
  /** How often live updates are pushed (and rates sampled), in ms. @defaultValue 2000 */
  intervalMs?: number;
  /**
   * How long a listing of the topics under the prefix is used before the next SCAN pass (run in
   * the background: pages answer from the last listing meanwhile). Raise it for a keyspace of
   * millions of keys (a pass is at most 200 SCAN calls of COUNT 1000). @defaultValue 5000
   */
  discoverEveryMs?: number;
  /**
   * Link an event's trace id (from its W3C `traceparent` header) to your tracing UI: an http(s)
   * URL with `{traceId}` where the id goes, e.g. 'https://jaeger.example/trace/{traceId}'.
   */
  traceUrl?: string;
  /**
   * How long a memory report (`/api/memory`, the Memory page: what `streamfan memory` reports, by
   * topic and kind) is reused before Redis is asked again. One report is bounded work (at most 50
   * SCAN calls of COUNT 1000 per node, MEMORY USAGE on a sample of 100 keys per sampled kind and
   * topic), never a walk of the whole keyspace. @defaultValue 30000
   */
  memoryEveryMs?: number;
}

/** A mountable request handler: `(req, res, next?)`. Call `close()` on shutdown. */
export interface DashboardHandler {
  (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void): void;
  /** Stop live updates and close the client the dashboard opened (not one it was given). */
  close(): Promise<void>;
  /** Whether actions are allowed. */
  readonly allowActions: boolean;
}

const ASSETS: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/styles.css': { file: 'styles.css', type: 'text/css; charset=utf-8' },
  '/favicon.svg': { file: 'favicon.svg', type: 'image/svg+xml' },
};

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
};

/** Most entries one page of a table holds. */
const MAX_PAGE = 200;
/** Most bytes an action's JSON body may have. */
const MAX_BODY = 64 * 1024;

function send(res: ServerResponse, status: number, body: string | Buffer, type: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) { res.end(); return; }
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  send(res, status, JSON.stringify(value), 'application/json; charset=utf-8', headers);
}

function limitOf(q: URLSearchParams, fallback = 50): number {
  const n = Number(q.get('limit') ?? fallback);
  if (!Number.isInteger(n) || n < 1) throw new DashboardHttpError(400, 'INVALID_OPTION', `limit must be a whole number from 1 to ${MAX_PAGE}`);
  return Math.min(n, MAX_PAGE);
}

/** A lane id's lane prefix (`high:`), as priority lanes are named (docs/priorities.md §1). */
const LANE_PREFIX = '[a-z][a-z0-9_-]{0,15}:';

function cursorOf(q: URLSearchParams, name: string, lanes = false): string | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  if (!new RegExp(`^${lanes ? `(${LANE_PREFIX})?` : ''}\\d{1,20}-\\d{1,20}$`).test(v)) {
    throw new DashboardHttpError(400, 'INVALID_OPTION', `${name} must be a stream id like 1700000000000-0${lanes ? ' (high:1700000000000-0 in a priority lane)' : ''}`);
  }
  return v;
}

function httpError(err: unknown): DashboardHttpError {
  if (err instanceof DashboardHttpError) return err;
  if (err instanceof StreamfanError) {
    const status = err.code === 'NOT_FOUND' ? 404
      : ['INVALID_NAME', 'INVALID_OPTION', 'INVALID_ID', 'INVALID_PAYLOAD'].includes(err.code) ? 400
      : err.code === 'GROUP_RETIRED' ? 409
      : err.code === 'REDIS_UNAVAILABLE' ? 503 : 500;
    return new DashboardHttpError(status, err.code, err.message);
  }
  const e = err as { message?: string; name?: string };
  if (e?.name === 'ReplyError' || e?.name === 'MaxRetriesPerRequestError' || /Connection is closed|ECONNREFUSED/.test(e?.message ?? '')) {
    return new DashboardHttpError(503, 'REDIS', `Redis: ${e.message ?? String(err)}`);
  }
  return new DashboardHttpError(500, 'INTERNAL', e?.message ?? String(err));
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  // A framework's body parser may have read the body already (Express' express.json() before
  // the dashboard): take what it parsed instead of waiting for a stream that has ended.
  const parsed = (req as IncomingMessage & { body?: unknown }).body;
  if (parsed !== undefined && parsed !== null && (req.readableEnded || req.complete)) {
    if (Buffer.isBuffer(parsed) || typeof parsed === 'string') {
      if (Buffer.byteLength(parsed) > MAX_BODY) throw new DashboardHttpError(413, 'TOO_LARGE', `request body over ${MAX_BODY} bytes`);
      return parseBody(parsed.toString());
    }
    if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new DashboardHttpError(400, 'BAD_JSON', 'the request body must be a JSON object');
    return parsed as Record<string, unknown>;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new DashboardHttpError(413, 'TOO_LARGE', `request body over ${MAX_BODY} bytes`);
    chunks.push(c as Buffer);
  }
  return parseBody(Buffer.concat(chunks).toString('utf8'));
}

function parseBody(text: string): Record<string, unknown> {
  let body: unknown;
  try {
    body = JSON.parse(text || '{}');
  } catch {
    throw new DashboardHttpError(400, 'BAD_JSON', 'the request body is not valid JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new DashboardHttpError(400, 'BAD_JSON', 'the request body must be a JSON object');
  return body as Record<string, unknown>;
}

/** A cursor of one stream's table: a stream id (a lane id is for a prioritized topic's merged tables). */
function plainCursor(after: string): string {
  if (!/^\d/.test(after)) throw new DashboardHttpError(400, 'INVALID_OPTION', `after must be a stream id like 1700000000000-0 here (lane ids like ${after} page a prioritized topic's own tables)`);
  return after;
}

function idsOf(body: Record<string, unknown>, what: string): string[] {
  const ids = body.ids;
  const form = new RegExp(`^(p\\d{1,4}:|${LANE_PREFIX})?\\d{1,20}-\\d{1,20}$`);
  if (!Array.isArray(ids) || ids.length === 0 || ids.length > 1000 || ids.some((x) => typeof x !== 'string' || !form.test(x))) {
    throw new DashboardHttpError(400, 'INVALID_OPTION', `give "ids": 1 to 1000 ${what} ids like 1700000000000-0 (p3:1700000000000-0 on a partitioned topic, high:1700000000000-0 in a priority lane)`);
  }
  return ids as string[];
}

function selectionOf(body: Record<string, unknown>): { ids: string[] } | { all: true } {
  if (body.all === true) {
    if (body.ids !== undefined) throw new DashboardHttpError(400, 'INVALID_OPTION', 'give "ids" or "all": true, not both');
    return { all: true };
  }
  return { ids: idsOf(body, 'dead-letter') };
}

/** Server-Sent Events: one overview per tick, computed once and sent to every open page. */
class LivePush {
  private readonly clients = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(private readonly compute: () => Promise<unknown>, private readonly intervalMs: number) {}

  add(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write('retry: 2000\n\n');
    this.clients.add(res);
    req.on('close', () => {
      this.clients.delete(res);
      if (this.clients.size === 0 && this.timer) { clearInterval(this.timer); this.timer = undefined; }
    });
    if (!this.timer) {
      this.timer = setInterval(() => void this.tick(), this.intervalMs);
      this.timer.unref();
    }
    void this.tick();
  }

  private async tick(): Promise<void> {
    if (this.running || this.clients.size === 0) return;
    this.running = true;
    let text: string;
    try {
      text = `event: overview\ndata: ${JSON.stringify(await this.compute())}\n\n`;
    } catch (err) {
      const e = httpError(err);
      text = `event: problem\ndata: ${JSON.stringify({ error: e.message, code: e.code })}\n\n`;
    } finally {
      this.running = false;
    }
    for (const c of this.clients) c.write(text);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const c of this.clients) c.end();
    this.clients.clear();
  }
}

function normaliseBase(base: string | undefined): string {
  if (!base || base === '/') return '';
  const b = `/${base.replace(/^\/+|\/+$/g, '')}`;
  if (!/^[A-Za-z0-9._~\-/]+$/.test(b)) throw new StreamfanError('INVALID_OPTION', `basePath ${JSON.stringify(base)} must be a plain URL path such as /ops/streamfan`);
  return b;
}

/**
 * The streamfan operations dashboard as a Node request handler: the page, its JSON API and
 * live updates (Server-Sent Events). Mount it in a plain `http` server, Express or Fastify:
 *
 * ```ts
 * const dashboard = createDashboard({ client: sf, basePath: '/ops' });
 * http.createServer((req, res) => dashboard(req, res, () => { res.statusCode = 404; res.end(); })).listen(8080, '127.0.0.1');
 * // Express: app.use('/ops', createDashboard({ client: sf }))
 * ```
 *
 * Read-only unless `allowActions`; without `token` or `auth` it answers only on loopback;
 * every action needs the page's CSRF header and a same-origin request. Every read is paged
 * (XRANGE/XPENDING with COUNT, SCAN with COUNT): no request does work proportional to a
 * stream's or a PEL's length.
 */
export function createDashboard(options: DashboardOptions = {}): DashboardHandler {
  if (options.client && options.url) throw new StreamfanError('INVALID_OPTION', 'give createDashboard a client or a url, not both');
  if (options.token !== undefined && (typeof options.token !== 'string' || options.token.length < 8)) {
    throw new StreamfanError('INVALID_OPTION', 'token must be a string of at least 8 characters (e.g. `openssl rand -hex 16`)');
  }
  if (options.traceUrl !== undefined && (typeof options.traceUrl !== 'string' || !/^https?:\/\/[^\s]+$/.test(options.traceUrl) || !options.traceUrl.includes('{traceId}'))) {
    throw new StreamfanError('INVALID_OPTION', `traceUrl must be an http(s) URL with {traceId} where the trace id goes (e.g. https://jaeger.example/trace/{traceId}), got ${JSON.stringify(options.traceUrl)}`);
  }
  const owned = options.client === undefined;
  const sf = options.client ?? new Streamfan({
    ...(options.url ? { connection: options.url } : {}),
    prefix: options.prefix ?? 'streamfan',
    retention: false,
    redisOptions: { maxRetriesPerRequest: 2, ...options.redisOptions },
  });
  const base = normaliseBase(options.basePath);
  const allowActions = options.allowActions === true;
  const csrf = randomToken();
  if (options.discoverEveryMs !== undefined && !(Number.isFinite(options.discoverEveryMs) && options.discoverEveryMs >= 0)) {
    throw new StreamfanError('INVALID_OPTION', `discoverEveryMs must be a number of milliseconds ≥ 0, got ${String(options.discoverEveryMs)}`);
  }
  if (options.memoryEveryMs !== undefined && !(Number.isFinite(options.memoryEveryMs) && options.memoryEveryMs >= 0)) {
    throw new StreamfanError('INVALID_OPTION', `memoryEveryMs must be a number of milliseconds ≥ 0, got ${String(options.memoryEveryMs)}`);
  }
  const memory = new MemoryReports(sf, options.memoryEveryMs ?? 30_000);
  const dir = new StreamDirectory(sf.redis, sf.prefix, options.discoverEveryMs ?? 5000);
  const sampler = new RateSampler();
  const live = new LivePush(() => overview(sf.redis, sf.prefix, dir, sampler), options.intervalMs ?? 2000);
  const asset = (file: string): string => ASSET_TEXT[file] ?? '';

  /** A home given in a URL: a topic, a partition (`T#i`) or a lane's page (`T+L`, the default lane too). */
  const ref = (home: string): Promise<StreamRef> => resolveLane(sf.redis, sf.prefix, parseHome(sf.prefix, home));

  /**
   * What an action acts on: the topic (a partitioned one with its partition count, so core
   * reads the partitions' keys) and the ids as core takes them: `p<i>:<id>` on a partitioned
   * topic (a partition's page sends its local ids, made `p<i>:` here; the topic's group page
   * sends `p<i>:` ids), plain ids otherwise.
   */
  async function target(r: StreamRef, ids: string[] | undefined): Promise<{ topic: Topic<unknown>; ids: string[] | undefined; partitions: number | null }> {
    const meta = await topicMeta(sf.redis, sf.prefix, r.topic);
    if (meta.lanes) {
      // A prioritized topic: core's lane-aware admin takes lane ids (plain in the default lane). A
      // lane's page sends its local ids, made lane ids here; the topic's pages send lane ids.
      const topic = lanedTopic(r.topic, meta.lanes);
      return { topic, ids: ids && r.lane !== undefined ? ids.map((id) => `${r.lane!}:${id}`) : ids, partitions: null };
    }
    const partitions = meta.partitions ?? null;
    if (partitions === null) {
      if (r.partition !== undefined) throw new DashboardHttpError(404, 'NOT_FOUND', `"${r.home}" is not a partition: topic "${r.topic}" is not partitioned`);
      return { topic: defineTopic(r.topic), ids, partitions };
    }
    const topic = defineTopic(r.topic, { partitions });
    if (ids === undefined) return { topic, ids, partitions };
    if (r.partition !== undefined) {
      if (r.partition >= partitions) throw new DashboardHttpError(404, 'NOT_FOUND', `topic "${r.topic}" has ${partitions} partitions: no partition ${r.partition}`);
      return { topic, ids: ids.map((id) => pid(r.partition!, id)), partitions };
    }
    for (const id of ids) {
      if (!splitPartitionedId(id, partitions)) throw new DashboardHttpError(400, 'INVALID_OPTION', `${JSON.stringify(id)} is not an id of partitioned topic "${r.topic}": they look like p3:1700000000000-0 (partition 0 to ${partitions - 1})`);
    }
    return { topic, ids, partitions };
  }

  /** Run an action; core's refusal of a partitioned topic becomes a clear 409, not an error page. */
  async function partitionAware<T>(what: string, r: StreamRef, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof InvalidOptionError && /not wired for partitioned topics/.test(err.message)) {
        throw new DashboardHttpError(409, 'NOT_AVAILABLE', `${what} on partitioned topic "${r.topic}" is not supported by this version of @streamfan/core yet, so nothing was changed. Core says: ${err.message}`);
      }
      throw err;
    }
  }

  /** A stream whose tables page: a topic or one partition (a partitioned topic's pages merge only their first page). */
  async function pagedRef(home: string): Promise<StreamRef> {
    const at = await ref(home);
    if (at.partition === undefined && at.lane === undefined) {
      const n = await partitionCount(sf.redis, sf.prefix, at.topic);
      if (n !== null) throw new DashboardHttpError(400, 'PARTITIONED', `topic "${at.topic}" has ${n} partitions: page through one partition's table (topics/${encodeURIComponent(`${at.topic}#0`)}/groups/…, up to #${n - 1})`);
    }
    return at;
  }

  async function route(req: IncomingMessage, res: ServerResponse, path: string, q: URLSearchParams, original: string): Promise<boolean> {
    const method = req.method ?? 'GET';
    const a = ASSETS[path];
    if (a) {
      if (method !== 'GET' && method !== 'HEAD') throw new DashboardHttpError(405, 'METHOD', `${method} not allowed here`, { allow: 'GET' });
      if (path === '/' && !original.split('?')[0]!.endsWith('/')) {
        // The page loads its assets by relative URLs: it must be served at a path ending in '/'.
        res.writeHead(308, { ...SECURITY_HEADERS, location: `${original.split('?')[0]}/${q.toString() ? `?${q}` : ''}` });
        res.end();
        return true;
      }
      const token = q.get('token');
      if (path === '/' && token !== null && options.token && sameSecret(token, options.token)) {
        // Trade the token in the URL for a cookie, and drop it from the address bar.
        const dirPath = original.split('?')[0]!;
        res.writeHead(303, { ...SECURITY_HEADERS, location: dirPath, 'set-cookie': `${TOKEN_COOKIE}=${encodeURIComponent(token)}; Path=${dirPath}; HttpOnly; SameSite=Strict` });
        res.end();
        return true;
      }
      await checkAccess(req, options);
      send(res, 200, method === 'HEAD' ? '' : asset(a.file), a.type);
      return true;
    }
    if (!path.startsWith('/api/')) return false;
    await checkAccess(req, options);
    const seg = path.slice(5).split('/').map((s) => {
      try { return decodeURIComponent(s); } catch { throw new DashboardHttpError(400, 'BAD_PATH', 'malformed URL encoding in the path'); }
    });
    if (method === 'POST') {
      // /api/topics/:home/groups/:group/(claim|ack|dead-letters/replay|dead-letters/purge)
      const action = seg.slice(4).join('/');
      if (seg[0] !== 'topics' || seg[2] !== 'groups' || seg.length < 5 || !['claim', 'ack', 'dead-letters/replay', 'dead-letters/purge'].includes(action)) {
        throw new DashboardHttpError(404, 'NO_ROUTE', `no action POST ${path}`);
      }
      if (!allowActions) throw new DashboardHttpError(403, 'READ_ONLY', 'this dashboard is read-only: start it with --allow-actions (allowActions: true) to claim, ack, replay or purge');
      checkCsrf(req, csrf);
      const body = await readJson(req);
      const r = await ref(seg[1]!);
      const group = seg[3]!;
      if (action === 'claim' || action === 'ack') {
        if (action === 'claim' && typeof body.consumer !== 'string') throw new DashboardHttpError(400, 'INVALID_OPTION', 'give "consumer": the consumer to hand the entries to');
        const t = await target(r, idsOf(body, 'entry'));
        if (action === 'claim') sendJson(res, 200, { claimed: await partitionAware('claim', r, () => sf.claim(t.topic, group, t.ids!, body.consumer as string)) });
        else sendJson(res, 200, { acked: await partitionAware('ack', r, () => sf.ack(t.topic, group, t.ids!)) });
        return true;
      }
      const sel = selectionOf(body);
      const t = await target(r, 'ids' in sel ? sel.ids : undefined);
      // "All" on one partition's page: that partition's dead letters only (core's partitioned
      // dead letters run the same per-partition code for each partition).
      // "All" on a lane's page: that lane's only (its keys are those of a topic named its home).
      const topic: Topic<unknown> = 'all' in sel && (r.partition !== undefined || r.lane !== undefined) ? { ...defineTopic(r.topic), name: r.home } : t.topic;
      const selection = 'ids' in sel ? { ids: t.ids! } : sel;
      const dl = sf.deadLetters(topic, group);
      if (action === 'dead-letters/replay') sendJson(res, 200, { replayed: await partitionAware('replay', r, () => dl.replay(selection)) });
      else sendJson(res, 200, { purged: await partitionAware('purge', r, () => dl.purge(selection)) });
      return true;
    }
    if (method !== 'GET' && method !== 'HEAD') throw new DashboardHttpError(405, 'METHOD', `${method} not allowed here`, { allow: 'GET, POST' });
    const r = sf.redis;
    const [s0, s1, s2, s3, s4, s5] = seg;
    if (seg.length === 1 && s0 === 'meta') {
      sendJson(res, 200, { prefix: sf.prefix, allowActions, csrf, intervalMs: options.intervalMs ?? 2000, traceUrl: options.traceUrl ?? null });
    } else if (seg.length === 1 && s0 === 'overview') {
      sendJson(res, 200, await overview(r, sf.prefix, dir, sampler));
    } else if (seg.length === 1 && s0 === 'memory') {
      // Every topic, or ?topic=<name> (a partitioned topic's partitions are counted under it).
      const topic = q.get('topic');
      sendJson(res, 200, await memory.get(topic === null || topic === '' ? undefined : topic));
    } else if (seg.length === 1 && s0 === 'live') {
      live.add(req, res);
    } else if (seg.length === 1 && s0 === 'search') {
      const text = q.get('q') ?? '';
      if (text.length > 1024) throw new DashboardHttpError(400, 'INVALID_OPTION', 'search text over 1024 characters');
      sendJson(res, 200, { q: text, hits: await search(r, sf.prefix, await dir.list(), text) });
    } else if (s0 === 'topics' && s1 !== undefined && seg.length === 2) {
      const before = cursorOf(q, 'before');
      sendJson(res, 200, await topicPage(r, sf.prefix, await ref(s1), { limit: limitOf(q, 25), ...(before ? { before } : {}) }));
    } else if (s0 === 'topics' && s1 !== undefined && s2 === 'events' && s3 !== undefined && seg.length === 4) {
      let at = await ref(s1);
      let id = s3;
      const lanes = at.partition === undefined && at.lane === undefined && !/^\d/.test(id) ? (await topicMeta(r, sf.prefix, at.topic)).lanes : undefined;
      if (lanes) {
        // A prioritized topic's event id, <lane>:<stream id> (or delayed id): read it in its lane.
        const split = splitLaneEventId(at.topic, lanes, id);
        at = split.ref;
        id = split.local;
      } else if (at.partition === undefined && /^p\d/.test(id)) {
        // A partitioned topic's event id, p<i>:<stream id>: read it in its partition.
        const n = await partitionCount(r, sf.prefix, at.topic);
        const split = n === null ? null : splitPartitionedId(id, n);
        if (!split) throw new DashboardHttpError(400, 'INVALID_ID', n === null ? `topic "${at.topic}" is not partitioned: its event ids look like 1700000000000-0` : `${JSON.stringify(id)} is not an event id of topic "${at.topic}" (${n} partitions): p0:… to p${n - 1}:…`);
        at = { home: `${at.topic}#${split.partition}`, topic: at.topic, partition: split.partition };
        id = split.local;
      }
      const ev = await eventPage(r, sf.prefix, at, id) as { id: string };
      if (at.lane !== undefined) {
        const stored = (await topicMeta(r, sf.prefix, at.topic)).lanes;
        const laneId = stored && at.lane !== stored.defaultLane ? `${at.lane}:${ev.id}` : ev.id;
        sendJson(res, 200, { ...ev, priority: at.lane, laneId });
      } else {
        const stored = at.partition === undefined ? (await topicMeta(r, sf.prefix, at.topic)).lanes : undefined;
        sendJson(res, 200, at.partition === undefined ? (stored ? { ...ev, priority: stored.defaultLane, laneId: ev.id } : ev) : { ...ev, partition: at.partition, partitionedId: /^\d/.test(ev.id) ? pid(at.partition, ev.id) : ev.id });
      }
    } else if (s0 === 'topics' && s1 !== undefined && s2 === 'groups' && s3 !== undefined && seg.length === 4) {
      const at = await ref(s1);
      const meta = at.partition === undefined && at.lane === undefined ? await topicMeta(r, sf.prefix, at.topic) : {};
      if (meta.partitions !== undefined) sendJson(res, 200, await partitionedGroupPage(r, sf.prefix, at.topic, meta.partitions, s3, limitOf(q, 25)));
      else if (meta.lanes) sendJson(res, 200, await lanedGroupPage(r, sf.prefix, at.topic, meta.lanes, s3, limitOf(q, 25)));
      else sendJson(res, 200, await groupPage(r, sf.prefix, at, s3, limitOf(q, 25)));
    } else if (s0 === 'topics' && s1 !== undefined && s2 === 'groups' && s3 !== undefined && seg.length === 5 && s4 === 'pending') {
      const after = cursorOf(q, 'after', true);
      const at = await pagedRef(s1);
      const lanes = at.lane === undefined && at.partition === undefined ? (await topicMeta(r, sf.prefix, at.topic)).lanes : undefined;
      // A prioritized topic: every lane, highest first; the cursor is a lane id.
      if (lanes) sendJson(res, 200, await lanedPendingRows(r, sf.prefix, at.topic, lanes, s3, { limit: limitOf(q, 25), ...(after ? { after } : {}) }));
      else sendJson(res, 200, await pendingRows(r, sf.prefix, at, s3, { limit: limitOf(q, 25), ...(after ? { after: plainCursor(after) } : {}) }));
    } else if (s0 === 'topics' && s1 !== undefined && s2 === 'groups' && s3 !== undefined && seg.length === 5 && s4 === 'dead-letters') {
      const after = cursorOf(q, 'after', true);
      const at = await pagedRef(s1);
      const lanes = at.lane === undefined && at.partition === undefined ? (await topicMeta(r, sf.prefix, at.topic)).lanes : undefined;
      if (lanes) sendJson(res, 200, await lanedDeadLetterPage(r, sf.prefix, at.topic, lanes, s3, { limit: limitOf(q, 25), ...(after ? { after } : {}) }));
      else sendJson(res, 200, await deadLetterPage(r, sf.prefix, at, s3, { limit: limitOf(q, 25), ...(after ? { after: plainCursor(after) } : {}) }));
    } else if (s0 === 'topics' && s1 !== undefined && s2 === 'groups' && s3 !== undefined && seg.length === 5 && s4 === 'retries') {
      const offset = Number(q.get('offset') ?? 0);
      if (!Number.isInteger(offset) || offset < 0) throw new DashboardHttpError(400, 'INVALID_OPTION', 'offset must be a whole number ≥ 0');
      const at = await pagedRef(s1);
      const lanes = at.lane === undefined && at.partition === undefined ? (await topicMeta(r, sf.prefix, at.topic)).lanes : undefined;
      if (lanes) throw new DashboardHttpError(400, 'LANED', `topic "${at.topic}" has priority lanes (${lanes.lanes.join(', ')}): page through one lane's retries (topics/${encodeURIComponent(`${at.topic}+${lanes.lanes[0]!}`)}/groups/…)`);
      sendJson(res, 200, await retryPage(r, sf.prefix, at, s3, { limit: limitOf(q, 25), offset }));
    } else {
      void s5;
      throw new DashboardHttpError(404, 'NO_ROUTE', `no route GET ${path}`);
    }
    return true;
  }

  const handler = ((req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => {
    const original = (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? '/';
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://dashboard.invalid');
    } catch {
      sendJson(res, 400, { error: 'malformed URL', code: 'BAD_PATH' });
      return;
    }
    let path = url.pathname;
    if (base) {
      if (path === base || path.startsWith(`${base}/`)) path = path.slice(base.length) || '/';
      else if (next) { next(); return; } else { sendJson(res, 404, { error: `the dashboard is under ${base}/`, code: 'NO_ROUTE' }); return; }
    }
    route(req, res, path, url.searchParams, original).then((handled) => {
      if (handled) return;
      if (next) next();
      else sendJson(res, 404, { error: `no route ${req.method ?? 'GET'} ${path}`, code: 'NO_ROUTE' });
    }).catch((err: unknown) => {
      const e = httpError(err);
      req.resume();
      sendJson(res, e.status, { error: e.message, code: e.code }, e.headers);
    });
  }) as DashboardHandler;
  let closing: Promise<void> | undefined;
  handler.close = () => {
    closing ??= (async () => {
      live.close();
      if (owned) await sf.close();
    })();
    return closing;
  };
  Object.defineProperty(handler, 'allowActions', { value: allowActions, enumerable: true });
  return handler;
}
