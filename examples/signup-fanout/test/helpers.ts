import { startRedis, uniquePrefix, type RedisServer } from '@streamfan/testing';
import { chromium, type Browser } from 'playwright-core';
import { existsSync } from 'node:fs';
import { Demo, type DemoOptions } from '../src/demo';
import { startServer, type DemoServer } from '../src/http/server';

/** A demo running in this process against a throwaway redis-server, on a free port. */
export interface RunningDemo {
  redis: RedisServer;
  demo: Demo;
  server: DemoServer;
  url: string;
  stop(): Promise<void>;
}

/** Start redis-server, the demo and its HTTP server (port 0: a free one). */
export async function startDemo(options: Partial<DemoOptions> = {}): Promise<RunningDemo> {
  const redis = await startRedis();
  const demo = new Demo({ connection: redis.url, prefix: uniquePrefix('demo'), ...options });
  await demo.start();
  const server = await startServer(demo, { port: 0, pushIntervalMs: 300, dashboardUrl: redis.url });
  return {
    redis, demo, server, url: server.url,
    async stop() {
      await server.close();
      await demo.close(0);
      await redis.stop();
    },
  };
}

/** Debian's chromium, as `.ci/run` installs it. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM);
}

/** Headless Chromium driven by playwright-core (no browser download). */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/** Call the demo's JSON API like the page does. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read whatever the API answered
export async function call(url: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
  }
  const res = await fetch(new URL(path, url), init);
  const text = await res.text();
  let parsed: unknown = text;
  try { parsed = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, body: parsed, headers: res.headers };
}
