import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** Name of the cookie that carries the dashboard token after `?token=` was given once. */
export const TOKEN_COOKIE = 'streamfan_dashboard';
/** Header every action must carry, with the value `/api/meta` gave the page. */
export const CSRF_HEADER = 'x-streamfan-csrf';

/** A request refused before it reached a query: status, stable code and a message that says what to do. */
export class DashboardHttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
    this.name = 'DashboardHttpError';
  }
}

/** True for an address on this machine only (127.0.0.0/8, ::1, IPv4-mapped loopback). */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.toLowerCase();
  return a === '::1' || a.startsWith('127.') || a.startsWith('::ffff:127.');
}

/** True for a host name or address a server may listen on without a token: loopback only. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || isLoopbackAddress(h);
}

/** A Host header naming this machine (defends a token-less dashboard against DNS rebinding). */
function isLoopbackHostHeader(host: string | undefined): boolean {
  if (!host) return false;
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d+$/, '');
  return isLoopbackHost(name);
}

/** A random token (URL-safe), for CSRF and for a generated dashboard token. */
export function randomToken(bytes = 24): string {
  return randomBytes(bytes).toString('base64url');
}

/** Constant-time string comparison. */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** The token a request presents: `Authorization: Bearer`, the dashboard cookie, or none. */
export function presentedToken(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice(7).trim();
  return cookie(req, TOKEN_COOKIE);
}

/**
 * Who may see the dashboard at all:
 * - with an `auth` hook, whoever it accepts (the application's own login);
 * - with a token, whoever presents it (cookie set by `?token=`, or a Bearer header);
 * - with neither, only requests that arrived on a loopback address and name a loopback host.
 */
export async function checkAccess(
  req: IncomingMessage,
  o: { token?: string; auth?: (req: IncomingMessage) => boolean | Promise<boolean> },
): Promise<void> {
  if (o.auth) {
    if (!(await o.auth(req))) throw new DashboardHttpError(401, 'UNAUTHORIZED', 'not signed in: the application refused this request (auth hook)');
    if (!o.token) return;
  }
  if (o.token) {
    const given = presentedToken(req);
    if (given === undefined || !sameSecret(given, o.token)) {
      throw new DashboardHttpError(401, 'UNAUTHORIZED', 'this dashboard needs its token: open it once as <dashboard url>?token=<token> (or send Authorization: Bearer <token>)');
    }
    return;
  }
  if (!isLoopbackAddress(req.socket?.localAddress) || !isLoopbackHostHeader(req.headers.host)) {
    throw new DashboardHttpError(403, 'LOOPBACK_ONLY', 'this dashboard has no token, so it answers only on a loopback address (127.0.0.1, ::1, localhost): start it with a token (--token) or an auth hook to serve it beyond this machine');
  }
}

/**
 * Cross-site request forgery defence for every action: the request must carry the CSRF header
 * with this dashboard's value (a page of another origin cannot read it from `/api/meta`), must
 * come from the same origin where the browser says (Origin, Sec-Fetch-Site), and must be JSON
 * (a plain HTML form cannot send it).
 */
export function checkCsrf(req: IncomingMessage, csrf: string): void {
  const given = req.headers[CSRF_HEADER];
  if (typeof given !== 'string' || !sameSecret(given, csrf)) {
    throw new DashboardHttpError(403, 'CSRF', `action refused: the ${CSRF_HEADER} header is missing or wrong (reload the dashboard page)`);
  }
  const site = req.headers['sec-fetch-site'];
  if (typeof site === 'string' && site !== 'same-origin' && site !== 'none') {
    throw new DashboardHttpError(403, 'CSRF', `action refused: sent from another site (Sec-Fetch-Site: ${site})`);
  }
  const origin = req.headers.origin;
  if (typeof origin === 'string' && origin !== 'null') {
    let host: string | undefined;
    try {
      host = new URL(origin).host;
    } catch {
      host = undefined;
    }
    const forwarded = req.headers['x-forwarded-host'];
    const expected = [req.headers.host, typeof forwarded === 'string' ? forwarded.split(',')[0]!.trim() : undefined];
    if (host === undefined || !expected.includes(host)) {
      throw new DashboardHttpError(403, 'CSRF', `action refused: Origin ${origin} is not this dashboard's origin`);
    }
  } else if (origin === 'null') {
    throw new DashboardHttpError(403, 'CSRF', 'action refused: opaque Origin (null)');
  }
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type)) {
    throw new DashboardHttpError(415, 'BAD_CONTENT_TYPE', 'actions take a JSON body: send content-type: application/json');
  }
}
