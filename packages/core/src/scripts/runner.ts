import { createHash } from 'node:crypto';
import type Redis from 'ioredis';
import type { ChainableCommander } from 'ioredis';
import { luaSources, type ScriptName } from './lua.generated';
import { clusterMasters } from '../connection';

const shas = new Map<ScriptName, string>();
function sha(name: ScriptName): string {
  let s = shas.get(name);
  if (!s) {
    s = createHash('sha1').update(luaSources[name].source).digest('hex');
    shas.set(name, s);
  }
  return s;
}

/** Scripts are sent as EVALSHA; on NOSCRIPT (a restarted or flushed server) once as EVAL. */
export async function runScript<T = unknown>(redis: Redis, name: ScriptName, keys: string[], args: (string | number)[]): Promise<T> {
  const declared = luaSources[name].keys;
  if (declared !== null && declared !== keys.length) {
    throw new Error(`script ${name} takes ${declared} keys, got ${keys.length}`);
  }
  try {
    return (await redis.evalsha(sha(name), keys.length, ...keys, ...args)) as T;
  } catch (err) {
    if (!/NOSCRIPT/.test((err as Error).message)) throw err;
    return (await redis.eval(luaSources[name].source, keys.length, ...keys, ...args)) as T;
  }
}

/** Queue a script on a pipeline (EVALSHA). Load it first with {@link loadScripts}. */
export function queueScript(pipeline: ChainableCommander, name: ScriptName, keys: string[], args: (string | number)[]): void {
  pipeline.evalsha(sha(name), keys.length, ...keys, ...args);
}

/** SCRIPT LOAD every script, so pipelines of EVALSHA cannot meet NOSCRIPT. */
export async function loadScripts(redis: Redis, names: ScriptName[] = Object.keys(luaSources) as ScriptName[]): Promise<void> {
  const masters = clusterMasters(redis);
  if (masters) {
    // Scripts are cached per node: load them on every master (EVALSHA falls back to EVAL anyway).
    await Promise.all(masters.map((node) => loadScripts(node, names)));
    return;
  }
  const p = redis.pipeline();
  for (const n of names) p.script('LOAD', luaSources[n].source);
  const res = await p.exec();
  for (const [err] of res ?? []) if (err) throw err;
}
