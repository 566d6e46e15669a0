import { ClosedError, InvalidNameError, InvalidOptionError, NotFoundError } from '@streamfan/core';

/** An error with an HTTP status; its message goes to the client as `{ error }`. */
export class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly code: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** 400: the request is malformed or a value is out of range. */
export class BadRequest extends HttpError {
  constructor(message: string) { super(400, message, 'BAD_REQUEST'); }
}

/** 404: no such route, group or event. */
export class NotFound extends HttpError {
  constructor(message: string) { super(404, message, 'NOT_FOUND'); }
}

/** 405: the route exists but not with this method. */
export class MethodNotAllowed extends HttpError {
  constructor(readonly allow: string[], method: string, path: string) {
    super(405, `${method} is not allowed on ${path}: use ${allow.join(' or ')}`, 'METHOD_NOT_ALLOWED');
  }
}

/** 409: the demo cannot do this now (shutting down). */
export class Conflict extends HttpError {
  constructor(message: string) { super(409, message, 'CONFLICT'); }
}

/** 413: the body is larger than the API accepts. */
export class PayloadTooLarge extends HttpError {
  constructor(limit: number) { super(413, `request body over ${limit} bytes: send less`, 'PAYLOAD_TOO_LARGE'); }
}

/** Map any error to a status and a JSON body; unexpected ones are 500 and keep their message. */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof NotFoundError) return new NotFound(err.message);
  if (err instanceof InvalidOptionError || err instanceof InvalidNameError) return new BadRequest(err.message);
  if (err instanceof ClosedError) return new Conflict('the demo was reset or is stopping while this request ran: try again');
  const message = err instanceof Error ? err.message : String(err);
  return new HttpError(500, `internal error: ${message}`, 'INTERNAL');
}
