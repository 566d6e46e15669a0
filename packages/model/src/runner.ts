import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Streamfan, defineTopic, type Topic } from '@streamfan/core';
import { sleep, startRedis, uniquePrefix, type RedisServer } from '@streamfan/testing';
import type { WorkerProcess } from '../../faults/src/fleet';
import { topicKeys, type TopicKeys } from '../../core/src/keys';
import { GROUPS, LATE_GROUP, type Command, type Plans } from './commands';
import { ModelFleet } from './fleet';
import { Model } from './model';
import { now, type ModelPayload, type ModelWorkerConfig } from './protocol';

/** Settings of one sequence run (the same for every command of it). */
export interface RunSettings {
  visibilityTimeoutMs: number;
  concurrency: number;
  /** Worker processes kept at quiescence (and started at the beginning). */
  workers: number;
  maxAttempts: number;
  /** How long the end state may take to settle before the checker reports what is left. */
  quiesceTimeoutMs: number;
  /** Keep the run directory (worker logs) even when the sequence passes. */
  keep: boolean;
  /** Narrate each command as it runs. */
  verbose: boolean;
  /** Checks not failed on (counted in the stats): known defects not fixed yet. */
  skipChecks: string[];
  /** Weight multiplier of fault commands and misbehaving handlers in generated sequences. */
  harshness: number;
  /** Every worker runs the library's retention (safe trims) this often; 0: off. */
  retentionIntervalMs: number;
  /**
   * The retention's minimum age (`retention.minAgeMs`): entries younger than this are never
   * trimmed, so the late group, whose worker process may take seconds to connect on a loaded
   * machine, finds the events published after its subscribe() call. The driver's own safe trims
   * use it too while a late group may still be on its way (within this long of a `join`).
   */
  retentionMinAgeMs: number;
}

export const DEFAULT_SETTINGS: RunSettings = {
  visibilityTimeoutMs: 2000,
  concurrency: 3,
  workers: 2,
  maxAttempts: 3,
  quiesceTimeoutMs: 60_000,
  keep: false,
  verbose: false,
  skipChecks: [],
  harshness: 1,
  retentionIntervalMs: 500,
  retentionMinAgeMs: 10_000,
};

/** Everything a running sequence holds; the checker reads it after quiescence. */
export interface System {
  settings: RunSettings;
  server: RedisServer;
  sf: Streamfan;
  admin: ReturnType<RedisServer['client']>;
  topic: Topic<ModelPayload>;
  keys: TopicKeys;
  fleet: ModelFleet;
  model: Model;
  runDir: string;
  healFile: string;
  /** Background SIGCONTs of `stop` commands still to come. */
  pendingConts: Array<Promise<void>>;
  narration: string[];
  startedAt: number;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms); });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** Start redis-server (AOF always), the publishing client and the first worker processes. */
export async function startSystem(settings: RunSettings): Promise<System> {
  const server = await startRedis({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
  const prefix = uniquePrefix('m');
  const topic = defineTopic<ModelPayload>('model');
  const runDir = mkdtempSync(join(tmpdir(), 'streamfan-model-'));
  const healFile = join(runDir, 'healed');
  writeFileSync(healFile, '');
  const sf = new Streamfan({ connection: server.url, prefix, retention: false, promoteIntervalMs: 100 });
  const model = new Model();
  sf.on('error', (e) => { if (model.clientErrors.length < 50) model.clientErrors.push(e.message); });
  const admin = server.client({ maxRetriesPerRequest: 2, commandTimeout: 5000 });
  const base: Omit<ModelWorkerConfig, 'consumer' | 'log'> = {
    url: server.url, prefix, topic: topic.name, groups: [...GROUPS], healFile,
    concurrency: settings.concurrency,
    visibilityTimeoutMs: settings.visibilityTimeoutMs,
    reclaimIntervalMs: Math.max(100, Math.floor(settings.visibilityTimeoutMs / 4)),
    maxAttempts: settings.maxAttempts,
    backoffMs: 100,
    blockMs: 500,
    shutdownGraceMs: 1000,
    handlerTimeoutMs: settings.visibilityTimeoutMs * 3,
    retentionIntervalMs: settings.retentionIntervalMs,
    retentionMinAgeMs: settings.retentionMinAgeMs,
  };
  const fleet = new ModelFleet(runDir, base);
  const sys: System = { settings, server, sf, admin, topic, keys: topicKeys(prefix, topic.name), fleet, model, runDir, healFile, pendingConts: [], narration: [], startedAt: now() };
  const first = Array.from({ length: settings.workers }, () => fleet.spawn());
  for (const w of first) await w.ready(30_000);
  return sys;
}

/** Stop everything the sequence started; keep the run directory when asked. */
export async function stopSystem(sys: System, keepDir: boolean): Promise<void> {
  await Promise.allSettled(sys.pendingConts);
  await sys.fleet.killAll();
  await sys.sf.close().catch(() => undefined);
  sys.admin.disconnect();
  await sys.server.stop();
  if (!keepDir) rmSync(sys.runDir, { recursive: true, force: true });
}

function narrate(sys: System, line: string): void {
  const s = `+${((now() - sys.startedAt) / 1000).toFixed(2)}s ${line}`;
  sys.narration.push(s);
  if (sys.settings.verbose) process.stdout.write(`${s}\n`);
}

function pick(sys: System, w: number): WorkerProcess | undefined {
  const alive = sys.fleet.alive;
  return alive.length ? alive[w % alive.length] : undefined;
}

function payload(seq: number, plans: Plans): ModelPayload {
  return { seq, p: plans };
}

/** Wait until `g` is a group of the topic again; the ms it took, or undefined after `timeoutMs`. */
async function waitGroup(sys: System, g: string, timeoutMs: number): Promise<number | undefined> {
  const t0 = now();
  while (now() - t0 < timeoutMs) {
    const rows = (await sys.admin.xinfo('GROUPS', sys.keys.stream).catch(() => [])) as unknown[][];
    if (rows.some((r) => r[r.indexOf('name') + 1] === g)) return now() - t0;
    await sleep(20);
  }
  return undefined;
}

/** Run one command against the real system and record what it did in the model. */
export async function runCommand(sys: System, cmd: Command): Promise<void> {
  const { sf, topic, model } = sys;
  const t0 = now();
  let said = '';
  try {
    switch (cmd.c) {
      case 'publish': {
        const seq = model.takeSeq();
        try {
          const id = await withTimeout(sf.publish(topic, payload(seq, cmd.plans)), 15_000, 'publish');
          model.owed.set(seq, { seq, returnedId: id, delayed: false, plans: cmd.plans, via: 'publish', t0, t: now() });
          said = `seq ${seq} → ${id}`;
        } catch (e) { model.uncertain.add(seq); said = `seq ${seq} failed: ${(e as Error).message}`; }
        break;
      }
      case 'publishMany': {
        const seqs = cmd.plans.map(() => model.takeSeq());
        try {
          const ids = await withTimeout(sf.publishMany(topic, seqs.map((s, i) => payload(s, cmd.plans[i]!)), cmd.delayMs ? { delayMs: cmd.delayMs } : {}), 15_000, 'publishMany');
          seqs.forEach((seq, i) => model.owed.set(seq, { seq, returnedId: ids[i]!, delayed: !!cmd.delayMs, plans: cmd.plans[i]!, via: 'publishMany', t0, t: now() }));
          said = `seqs ${seqs[0]}..${seqs[seqs.length - 1]}`;
        } catch (e) { for (const s of seqs) model.uncertain.add(s); said = `seqs ${seqs[0]}..${seqs[seqs.length - 1]} failed: ${(e as Error).message}`; }
        break;
      }
      case 'delayed': {
        const seq = model.takeSeq();
        try {
          const id = await withTimeout(sf.publish(topic, payload(seq, cmd.plans), { delayMs: cmd.delayMs }), 15_000, 'publish delayed');
          model.owed.set(seq, { seq, returnedId: id, delayed: true, plans: cmd.plans, via: 'delayed', t0, t: now() });
          said = `seq ${seq} → ${id}`;
        } catch (e) { model.uncertain.add(seq); said = `seq ${seq} failed: ${(e as Error).message}`; }
        break;
      }
      case 'idem': {
        const seq = model.takeSeq();
        const known = model.idemFirst.has(cmd.key);
        const first = model.idemFirst.get(cmd.key);
        try {
          const id = await withTimeout(sf.publish(topic, payload(seq, cmd.plans), { idempotencyKey: `k${cmd.key}`, ...(cmd.delayMs ? { delayMs: cmd.delayMs } : {}) }), 15_000, 'publish idempotent');
          if (!known) {
            model.idemFirst.set(cmd.key, id);
            model.owed.set(seq, { seq, returnedId: id, delayed: !!cmd.delayMs, plans: cmd.plans, via: 'idem', t0, t: now() });
          } else if (first !== undefined) {
            model.idemRepeats.push({ seq, key: cmd.key, returned: id, expected: first });
          } else {
            model.uncertain.add(seq); // the key's first outcome is unknown: this one may or may not have written
          }
          said = `seq ${seq} key k${cmd.key} → ${id}${known ? ` (first: ${first ?? 'unknown'})` : ''}`;
        } catch (e) {
          model.uncertain.add(seq);
          if (!known) model.idemFirst.set(cmd.key, undefined);
          said = `seq ${seq} key k${cmd.key} failed: ${(e as Error).message}`;
        }
        break;
      }
      case 'wait':
        await sleep(cmd.ms);
        break;
      case 'kill': {
        const w = pick(sys, cmd.w);
        if (!w) { said = 'no worker alive'; break; }
        w.signal('SIGCONT');
        await w.kill();
        said = `${w.consumer} killed`;
        if (cmd.respawn) said += `; ${sys.fleet.spawn().consumer} started`;
        break;
      }
      case 'stop': {
        const w = pick(sys, cmd.w);
        if (!w || model.stops.some((s) => s.consumer === w.consumer && s.to === Infinity)) { said = 'no worker to stop'; break; }
        w.signal('SIGSTOP');
        const win = { consumer: w.consumer, from: now(), to: Infinity };
        model.stops.push(win);
        sys.pendingConts.push(sleep(cmd.ms).then(() => { w.signal('SIGCONT'); win.to = now(); }));
        said = `${w.consumer} stopped for ${cmd.ms} ms`;
        break;
      }
      case 'close': {
        const w = pick(sys, cmd.w);
        if (!w) { said = 'no worker alive'; break; }
        const r = await w.stop(20_000);
        said = `${w.consumer} closed (${r.signal ?? `code ${r.code}`})`;
        if (cmd.respawn) said += `; ${sys.fleet.spawn().consumer} started`;
        break;
      }
      case 'join': {
        if (sys.fleet.alive.length >= 4) { said = 'already 4 workers'; break; }
        const first = !model.joined;
        model.joined = true;
        model.lastJoinAt = now();
        sys.fleet.lateGroups = [LATE_GROUP];
        const w = sys.fleet.spawn();
        said = `${w.consumer} started with group ${LATE_GROUP}${first ? ' (new, from latest)' : ''}`;
        // Publish the moment the worker has called subscribe(): this event is owed to the new group.
        await w.waitEvent('subscribing', { group: LATE_GROUP, timeoutMs: 30_000 });
        const seq = model.takeSeq();
        const plans: Plans = Object.fromEntries(GROUPS.map((g) => [g, { k: 'ok' }]));
        const t1 = now();
        try {
          const id = await withTimeout(sf.publish(topic, payload(seq, plans)), 15_000, 'publish');
          model.owed.set(seq, { seq, returnedId: id, delayed: false, plans, via: 'publish', t0: t1, t: now() });
          said += `; seq ${seq} → ${id} right after its subscribe()`;
        } catch (e) { model.uncertain.add(seq); said += `; seq ${seq} failed: ${(e as Error).message}`; }
        break;
      }
      case 'spawn':
        if (sys.fleet.alive.length >= 4) { said = 'already 4 workers'; break; }
        said = `${sys.fleet.spawn().consumer} started`;
        break;
      case 'redisRestart': {
        const from = now();
        if (cmd.how === 'kill') await sys.server.kill('SIGKILL');
        else await sys.server.shutdown();
        await sleep(cmd.downMs);
        await sys.server.start();
        model.redisDown.push({ from, to: now() });
        break;
      }
      case 'clientKill': {
        const seqs = Array.from({ length: cmd.n }, () => model.takeSeq());
        const calls = seqs.map(async (seq) => {
          const t1 = now();
          try {
            const id = await withTimeout(sf.publish(topic, payload(seq, cmd.plans)), 15_000, 'publish');
            model.owed.set(seq, { seq, returnedId: id, delayed: false, plans: cmd.plans, via: 'publish', t0: t1, t: now() });
            return true;
          } catch { model.uncertain.add(seq); return false; }
        });
        await sleep(cmd.afterMs);
        const killed = await sys.admin.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
        const ok = (await Promise.all(calls)).filter(Boolean).length;
        said = `seqs ${seqs[0]}..${seqs[seqs.length - 1]}: ${ok} of ${cmd.n} resolved; ${String(killed)} connections killed`;
        break;
      }
      case 'trim': {
        // Like the workers' retention while a late group may still be connecting (see retentionMinAgeMs).
        const joining = model.lastJoinAt !== undefined && now() - model.lastJoinAt < sys.settings.retentionMinAgeMs;
        const r = await withTimeout(sf.trim(topic, { approximate: cmd.approximate, minAgeMs: joining ? sys.settings.retentionMinAgeMs : 0 }), 15_000, 'trim');
        said = `removed ${r.removed}, length ${r.length}, lostToCap ${r.lostToCap}`;
        if (r.lostToCap > 0) model.driverErrors.push(`a safe trim reported lostToCap ${r.lostToCap}`);
        break;
      }
      case 'cap': {
        model.capsAt.push(now());
        // Which seq each entry holds, read before the cap removes it.
        const bySeq = new Map<string, number>();
        for (const [id, flat] of await sys.admin.xrange(sys.keys.stream, '-', '+')) {
          const i = flat.indexOf('payload');
          try { bySeq.set(id, (JSON.parse(flat[i + 1] ?? 'null') as ModelPayload).seq); } catch { /* not ours */ }
        }
        const r = await withTimeout(sf.trim(topic, { maxLen: cmd.maxLen, approximate: cmd.approximate }), 15_000, 'trim with a cap');
        for (const id of r.lostIds) {
          model.capLostIds.add(id);
          const seq = bySeq.get(id);
          if (seq !== undefined) { model.capLostSeqs.add(seq); model.capLostIdBySeq.set(seq, id); }
        }
        model.capLostUnlisted += Math.max(0, r.lostToCap - r.lostIds.length);
        said = `removed ${r.removed}, lostToCap ${r.lostToCap} (seqs ${[...r.lostIds].map((id) => bySeq.get(id) ?? id).join(',')}), length ${r.length}`;
        break;
      }
      case 'destroy': {
        const g = GROUPS[cmd.g % GROUPS.length]!;
        const succeededBefore = new Set<number>();
        for (const e of model.owed.values()) {
          if (e.delayed) continue;
          const st = await sf.status(topic, e.returnedId).catch(() => undefined);
          if (st?.groups[g]?.state === 'succeeded') succeededBefore.add(e.seq);
        }
        // Every running worker has joined the group first, and the group is back (recreated by a
        // consumer's recovery) before the sequence goes on: a worker subscribing while the group is
        // missing would create it anew from its startFrom ('beginning'), which is no recovery.
        for (const w of sys.fleet.alive) await w.ready(30_000).catch(() => undefined);
        await sys.admin.xgroup('DESTROY', sys.keys.stream, g);
        model.destroys.push({ g, t: now(), succeededBefore });
        const back = await waitGroup(sys, g, 5000);
        said = `group ${g} destroyed (${succeededBefore.size} events had succeeded in it); ${back ? `recreated after ${Math.round(back)} ms` : 'not recreated within 5 s'}`;
        break;
      }
      case 'sabotage': {
        const seq = model.takeSeq();
        const script = "local id = redis.call('XADD', KEYS[1], '*', 'payload', ARGV[1], 'headers', '') redis.call('XDEL', KEYS[1], id) return id";
        const id = String(await sys.admin.eval(script, 1, sys.keys.stream, JSON.stringify(payload(seq, cmd.plans))));
        model.owed.set(seq, { seq, returnedId: id, delayed: false, plans: cmd.plans, via: 'publish', t0, t: now() });
        said = `seq ${seq} → ${id}, deleted at once`;
        break;
      }
      case 'replay': {
        const g = GROUPS[cmd.g % GROUPS.length]!;
        const dlq = sf.deadLetters(topic, g);
        const letters = await withTimeout(dlq.list({ count: 1000 }), 15_000, 'list dead letters');
        const seqs: number[] = [];
        const healed: number[] = [];
        for (const d of letters) {
          const seq = d.payload?.seq;
          if (typeof seq !== 'number') continue;
          seqs.push(seq);
          if (d.payload?.p?.[g]?.k === 'heal') {
            healed.push(seq);
            model.healed.add(`${g}:${seq}`);
            appendFileSync(sys.healFile, `${g}:${seq}\n`);
          }
        }
        if (letters.length === 0) { said = `group ${g}: no dead letters`; break; }
        const n = await withTimeout(dlq.replay({ ids: letters.map((d) => d.deadLetterId) }), 15_000, 'replay dead letters');
        model.replays.push({ g, t: now(), seqs, healed });
        said = `group ${g}: replayed ${n} of ${letters.length} (seqs ${seqs.join(',')}; healed ${healed.join(',') || 'none'})`;
        break;
      }
    }
  } catch (e) {
    said = `driver error: ${(e as Error).message}`;
    model.driverErrors.push(`${JSON.stringify(cmd)}: ${(e as Error).message}`);
  }
  narrate(sys, `${cmd.c}${said ? `: ${said}` : ''} (${Math.round(now() - t0)} ms)`);
}

/**
 * Back to a steady state: every stopped worker continued, Redis up, `workers` processes
 * running and ready. The checker then waits for the data to settle.
 */
export async function restoreSteadyState(sys: System): Promise<void> {
  for (const w of sys.fleet.all) if (w.alive) w.signal('SIGCONT');
  await Promise.allSettled(sys.pendingConts);
  await sys.server.start();
  const fresh: WorkerProcess[] = [];
  while (sys.fleet.alive.length < sys.settings.workers) fresh.push(sys.fleet.spawn());
  // The late group needs a consumer too (its only one may have been killed): every worker spawned
  // after a `join` subscribes it.
  if (sys.fleet.lateGroups.length > 0 && !sys.fleet.alive.some((w) => sys.fleet.withLateGroups.has(w.consumer))) fresh.push(sys.fleet.spawn());
  for (const w of fresh) await w.ready(30_000);
  narrate(sys, `steady state: ${sys.fleet.alive.map((w) => w.consumer).join(', ')} running`);
}
