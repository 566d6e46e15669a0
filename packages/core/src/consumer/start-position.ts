import type Redis from 'ioredis';

/**
 * Where a new group made with `startFrom: 'latest'` starts: the stream's last generated id,
 * read when `subscribe()` was called. The read is sent at once on the client's command
 * connection, so it runs in Redis before any publish the caller makes after `subscribe()`
 * on the same client (one connection runs its commands in order): such an event is always
 * delivered to the new group. '0-0' when the stream does not exist yet (everything in it
 * will be newer). Never rejects: undefined when the read failed (the group then starts at '$').
 */
export function captureStreamEnd(redis: Redis, stream: string): Promise<string | undefined> {
  return (redis.xinfo('STREAM', stream) as Promise<unknown[]>).then(
    (flat) => {
      for (let i = 0; i + 1 < flat.length; i += 2) if (flat[i] === 'last-generated-id') return String(flat[i + 1]);
      return undefined;
    },
    (err: Error) => (/no such key/i.test(err.message) ? '0-0' : undefined),
  );
}
