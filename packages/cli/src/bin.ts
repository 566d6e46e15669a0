#!/usr/bin/env node
import { main } from './main';

// `streamfan … | head` closes the pipe early: that is the reader saying "enough", not a failure.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}

void main(process.argv).then((code) => {
  // Everything is closed by now. Exit once stdout and stderr are flushed rather than wait for
  // stray timers (a client's close keeps a 1 s timer alive).
  process.exitCode = code;
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
});
