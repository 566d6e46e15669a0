import { connect, createServer, type Socket } from 'node:net';

/** A TCP proxy in front of a redis-server that can cut a connection at a chosen moment. */
export interface TcpProxy {
  readonly host: string;
  readonly port: number;
  /** `redis://host:port` of the proxy. */
  readonly url: string;
  /** Client connections accepted so far. */
  readonly accepted: number;
  /**
   * Arm a one-shot cut: once a request chunk from a client matches `request` (e.g. contains
   * `XADD` or `EVALSHA`) it is forwarded to Redis; the next reply chunk Redis sends on that
   * connection is dropped and both sockets are destroyed, so Redis has run the command and the
   * client never hears its answer. Resolves once the cut happened.
   */
  cutAfterReplyTo(request: (chunk: string) => boolean): Promise<{ request: string; droppedReply: string }>;
  /** Close the listener and every connection. */
  close(): Promise<void>;
}

/** Start a proxy on a free port of 127.0.0.1 that forwards every connection to `target`. */
export async function startTcpProxy(target: { host?: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  let armed: { match: (chunk: string) => boolean; done: (v: { request: string; droppedReply: string }) => void } | undefined;

  const server = createServer((client) => {
    accepted += 1;
    const upstream = connect({ host: target.host ?? '127.0.0.1', port: target.port });
    sockets.add(client);
    sockets.add(upstream);
    let pending: { request: string; done: (v: { request: string; droppedReply: string }) => void } | undefined;
    let dropping: { request: string; reply: string; done: (v: { request: string; droppedReply: string }) => void } | undefined;
    const end = () => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream); };
    client.on('data', (chunk: Buffer) => {
      // Once the reply is being dropped the connection is as good as cut: nothing more reaches Redis.
      if (dropping) return;
      const text = chunk.toString('latin1');
      if (armed && !pending && armed.match(text)) {
        pending = { request: text, done: armed.done };
        armed = undefined;
      }
      upstream.write(chunk);
    });
    // The reply to the matched request is dropped, with whatever follows it within 50 ms: a server
    // may write one reply in several segments (Redis 6.2 writes an XREADGROUP reply's header and its
    // entries with two writes), and the whole of it is what the test means to lose.
    upstream.on('data', (chunk: Buffer) => {
      if (dropping) {
        dropping.reply += chunk.toString('latin1');
        return;
      }
      if (pending) {
        const d = (dropping = { request: pending.request, reply: chunk.toString('latin1'), done: pending.done });
        pending = undefined;
        setTimeout(() => {
          end();
          d.done({ request: d.request, droppedReply: d.reply });
        }, 50);
        return;
      }
      client.write(chunk);
    });
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    host: '127.0.0.1',
    port,
    url: `redis://127.0.0.1:${port}`,
    get accepted() { return accepted; },
    cutAfterReplyTo: (match) => new Promise((resolve) => { armed = { match, done: resolve }; }),
    close: async () => {
      for (const s of sockets) s.destroy();
      sockets.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
