import { StreamfanError } from '@streamfan/core';

/** Wrong usage of the command line (exit code 2): bad arguments, malformed input, no --yes. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Exit codes of the `streamfan` command. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

const USAGE_CODES = new Set(['INVALID_NAME', 'INVALID_OPTION', 'INVALID_PAYLOAD', 'PAYLOAD_TOO_LARGE', 'INVALID_ID', 'UNKNOWN_LANE']);

/** The exit code and stable error code for an error that ended a command. */
export function classify(err: unknown): { exitCode: number; code: string } {
  if (err instanceof UsageError) return { exitCode: EXIT.usage, code: 'USAGE' };
  if ((err as Error)?.name === 'AbortedError') return { exitCode: EXIT.failed, code: 'ABORTED' };
  if (err instanceof StreamfanError) return { exitCode: USAGE_CODES.has(err.code) ? EXIT.usage : EXIT.failed, code: err.code };
  return { exitCode: EXIT.failed, code: 'ERROR' };
}
