#!/usr/bin/env node
import { main } from './main';

void main(process.argv).then((code) => {
  // Everything is closed by now. Exit once stdout and stderr are flushed rather than wait for
  // stray timers (a client's close keeps a 1 s timer alive).
  process.exitCode = code;
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
});
