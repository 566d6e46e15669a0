import { CommanderError } from 'commander';
import { classify, EXIT } from './errors';
import { processIo, type Io } from './context';
import { buildProgram } from './program';

const HELP_CODES = new Set(['commander.helpDisplayed', 'commander.version']);

/**
 * Run the `streamfan` command line. Never throws and never prints a stack trace: errors become
 * one message on stderr (and `{ "error": { code, message } }` on stdout with --json).
 * @param argv as `process.argv` (node, script, args...)
 * @returns the exit code: 0 success, 1 failed operation, 2 wrong usage
 */
export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv]);
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander printed its message already (missing argument, unknown option or command...)
      if (HELP_CODES.has(err.code)) return EXIT.ok;
      if (argv.includes('--json'))
        io.out(JSON.stringify({ error: { code: 'USAGE', message: err.message.replace(/^error: /, '') } }, null, 2));
      return EXIT.usage;
    }
    const { exitCode, code } = classify(err);
    const message = err instanceof Error ? err.message : String(err);
    io.err(`streamfan: error: ${message}`);
    if (program.opts().json === true) io.out(JSON.stringify({ error: { code, message } }, null, 2));
    return exitCode;
  }
}
