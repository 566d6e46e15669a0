import { InvalidArgumentError, type Command } from 'commander';
import { Context, globalOptions, type Io } from './context';
import { parseDuration } from './format/duration';

/** Turns a command body into a commander action: builds the context, closes it, explains errors. */
export type ActionFactory = <A extends unknown[]>(
  body: (ctx: Context, ...args: A) => Promise<void>,
) => (...all: unknown[]) => Promise<void>;

/** The action factory for one run of the program. */
export function actionFactory(io: Io): ActionFactory {
  return (body) =>
    async (...all) => {
      const cmd = all[all.length - 1] as Command;
      const ctx = new Context(globalOptions(cmd), io);
      try {
        await (body as (c: Context, ...a: unknown[]) => Promise<void>)(ctx, ...all.slice(0, -1));
      } catch (err) {
        throw ctx.explain(err);
      } finally {
        await ctx.close();
      }
    };
}

/** Help text with examples, shown after the options. */
export function examples(...lines: string[]): string {
  return `\nExample${lines.length > 1 ? 's' : ''}:\n${lines.map((l) => `  $ ${l}`).join('\n')}`;
}

/** Commander parser for `--limit`-like options. */
export function positiveInt(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number ≥ 1.');
  return n;
}

/** Commander parser for durations (`500ms`, `30s`, `5m`, `1h30m`, bare ms). */
export function duration(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new InvalidArgumentError('expected a duration such as 500ms, 30s, 5m, 1h30m or a number of ms.');
  return ms;
}

/** Commander parser for stream ids (`1700000000000-0`). */
export function streamId(text: string): string {
  if (!/^\d+(-\d+)?$/.test(text)) throw new InvalidArgumentError('expected a stream id such as 1700000000000-0.');
  return text;
}

/**
 * Commander parser for event ids: a stream id (`1700000000000-0`) or a delayed publish's id
 * (`delayed-<uuid>`). A wrong id is a usage error (exit 2) before anything is sent to Redis.
 */
export function eventId(text: string): string {
  // A partitioned topic's ids carry their partition: p3:1700000000000-0, p3:delayed-<uuid>.
  const local = text.replace(/^p(0|[1-9]\d{0,3}):/, '');
  if (/^\d+(-\d+)?$/.test(local) || /^delayed-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(local)) return text;
  throw new InvalidArgumentError(
    'expected an event id such as 1700000000000-0 (or a delayed-… id from a delayed publish; p3:1700000000000-0 on a partitioned topic).',
  );
}

/** Commander parser for entry ids that may carry a partition (`1700000000000-0`, `p3:1700000000000-0`). */
export function entryId(text: string): string {
  if (!/^(p(0|[1-9]\d{0,3}):)?\d+-\d+$/.test(text))
    throw new InvalidArgumentError('expected an entry id such as 1700000000000-0 (p3:1700000000000-0 on a partitioned topic).');
  return text;
}

/** Commander collector for repeatable options. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
