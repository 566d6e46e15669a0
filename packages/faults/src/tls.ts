import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { freePort, redisServerBin } from '@streamfan/testing';

/** Certificates made for one test: a CA, a server certificate it signed, and an unrelated CA. */
export interface TestCerts {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  /** A CA that did not sign the server certificate. */
  otherCa: string;
}

/** Make a throwaway CA, a server certificate for 127.0.0.1/localhost signed by it, and another CA (openssl). */
export function makeCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'streamfan-tls-'));
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=streamfan faults CA');
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'other.key', '-out', 'other.pem', '-days', '2', '-subj', '/CN=some other CA');
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'ext.cnf');
  return { dir, ca: join(dir, 'ca.pem'), serverCert: join(dir, 'server.pem'), serverKey: join(dir, 'server.key'), otherCa: join(dir, 'other.pem') };
}

/** A redis-server that listens on TLS only (`--port 0`). */
export interface TlsRedis {
  port: number;
  url: string;
  stop(): Promise<void>;
}

function tlsPing(port: number, ca: Buffer): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ port, host: '127.0.0.1', ca, servername: 'localhost' }, () => sock.write('PING\r\n'));
    const done = (ok: boolean) => { sock.destroy(); resolve(ok); };
    sock.setTimeout(1000, () => done(false));
    sock.on('error', () => done(false));
    sock.on('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

/** Start redis-server with `--tls-port <free port> --port 0` and the given certificates. */
export async function startTlsRedis(certs: TestCerts): Promise<TlsRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'streamfan-tls-redis-'));
  const child: ChildProcess = spawn(redisServerBin(), [
    '--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no',
    '--tls-cert-file', certs.serverCert, '--tls-key-file', certs.serverKey, '--tls-ca-cert-file', certs.ca, '--tls-auth-clients', 'no',
  ], { stdio: 'ignore' });
  const ca = readFileSync(certs.ca);
  const deadline = Date.now() + 10_000;
  while (!(await tlsPing(port, ca))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not answer on TLS port ${port} (is it built with TLS support?)`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    url: `rediss://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
