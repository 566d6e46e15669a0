import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { InvalidArgumentError, type Command } from 'commander';
import { Streamfan, RedisUnavailableError, StreamfanError, fromRedisError, type StreamfanOptions } from '@streamfan/core/internal';
import { UsageError } from './errors';

/** Options every command accepts (declared on the program). */
export interface GlobalOptions {
  url: string;
  prefix: string;
  json: boolean;
  tlsCa?: string;
}

/** Where a command writes: stdout for results, stderr for prompts and errors. Replaceable in tests. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  stdinIsTty: boolean;
  readStdin(): Promise<string>;
  ask(question: string): Promise<string>;
}

/** The process's streams. */
export const processIo: Io = {
  out: (t) => {
    process.stdout.write(t.endsWith('\n') ? t : `${t}\n`);
  },
  err: (t) => {
    process.stderr.write(t.endsWith('\n') ? t : `${t}\n`);
  },
  get stdinIsTty() {
    return process.stdin.isTTY === true;
  },
  readStdin: async () => {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
  ask: async (q) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      return await rl.question(q);
    } finally {
      rl.close();
    }
  },
};

/** What a command's action gets: its options, a client factory, output helpers. */
export class Context {
  private client: Streamfan | undefined;
  private lastConnectionError: Error | undefined;
  /** Connections the command opened besides the client's own (e.g. tail's blocking reader). */
  readonly extraConnections: Array<{ disconnect(): void }> = [];

  constructor(
    readonly opts: GlobalOptions,
    readonly io: Io,
  ) {}

  /** The client, connected on first use. */
  sf(): Streamfan {
    if (!this.client) {
      checkUrl(this.opts.url);
      const options: StreamfanOptions = {
        connection: this.opts.url,
        prefix: this.opts.prefix,
        retention: false,
        // One retry: a command line fails fast and says why, rather than waiting on reconnects.
        redisOptions: { maxRetriesPerRequest: 1, connectTimeout: 5000, ...tlsOptions(this.opts.tlsCa) },
      };
      this.client = new Streamfan(options);
      this.client.redis.on('error', (e: Error) => {
        this.lastConnectionError = e;
      });
    }
    return this.client;
  }

  /** Print a result: JSON document with --json, else the text `human()` builds. */
  print(doc: unknown, human: () => string): void {
    this.io.out(this.opts.json ? JSON.stringify(doc, null, 2) : human());
  }

  /**
   * Ask before a change that cannot be undone. `--yes` skips the question; without a
   * terminal to ask on, refuse (exit 2) rather than act unasked.
   */
  async confirm(action: string, yes: boolean | undefined): Promise<void> {
    if (yes) return;
    if (!this.io.stdinIsTty) {
      throw new UsageError(`refusing to ${action} without confirmation: stdin is not a terminal. Pass --yes to confirm.`);
    }
    const answer = await this.io.ask(`${action}? [y/N] `);
    if (!/^y(es)?$/i.test(answer.trim())) throw new AbortedError(`not confirmed: nothing was changed (${action})`);
  }

  /** Rewrite an error about the connection so it names the URL that failed. */
  explain(err: unknown): unknown {
    if (err instanceof UsageError || err instanceof AbortedError || err instanceof InvalidArgumentError) return err;
    let e = err;
    if (!(e instanceof StreamfanError) && isRedisError(e)) e = fromRedisError(e, 'Redis');
    const down = this.client !== undefined && this.client.redis.status !== 'ready' && this.lastConnectionError !== undefined;
    const expected = e instanceof StreamfanError && KEEP.has(e.code);
    if (!(e instanceof RedisUnavailableError) && !(down && !expected)) return e;
    const url = this.client?.url ?? this.opts.url;
    const why = (this.lastConnectionError?.message ?? (e as Error).message).replace(/\.+$/, '');
    return new RedisUnavailableError(
      `cannot reach Redis at ${url}: ${why}. Check that it runs and that the URL (--url or REDIS_URL), user, password and TLS settings (rediss://, --tls-ca) are right.`,
      { cause: err },
    );
  }

  /** Close every connection the command opened. */
  async close(): Promise<void> {
    for (const c of this.extraConnections) c.disconnect();
    await this.client?.close();
  }
}

/** The user said no at the prompt (exit 1: nothing was done). */
export class AbortedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AbortedError';
  }
}

/** Errors that say something about the request itself, not the connection. */
const KEEP = new Set(['NOT_FOUND', 'INVALID_NAME', 'INVALID_OPTION', 'INVALID_PAYLOAD', 'PAYLOAD_TOO_LARGE']);

/** An error raised by ioredis (a reply error or a connection failure), not by our own code. */
function isRedisError(err: unknown): boolean {
  const e = err as { name?: string; code?: string; message?: string };
  return (
    e?.name === 'ReplyError' ||
    e?.name === 'MaxRetriesPerRequestError' ||
    typeof e?.code === 'string' ||
    /Connection is closed|Stream isn't writeable/.test(e?.message ?? '')
  );
}

/**
 * Refuse a URL that is not for Redis (`http://…` would otherwise fail later as a bare
 * "ECONNREFUSED /"), saying what is expected. The password is never echoed.
 */
function checkUrl(url: string): void {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined || scheme === 'redis' || scheme === 'rediss') return;
  const shown = url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
  throw new UsageError(`${shown} is not a Redis URL (${scheme}://): use redis://host:6379, or rediss:// for TLS (--url or REDIS_URL)`);
}

function tlsOptions(caFile: string | undefined): StreamfanOptions['redisOptions'] {
  if (!caFile) return {};
  let ca: Buffer;
  try {
    ca = readFileSync(caFile);
  } catch (err) {
    throw new UsageError(`cannot read the CA certificate file ${caFile} given to --tls-ca: ${(err as Error).message}`);
  }
  return { tls: { ca } };
}

/** The global options of the program a command belongs to. */
export function globalOptions(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals() as GlobalOptions;
}
