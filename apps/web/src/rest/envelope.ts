// LXD's response envelope (shared/api/response.go) and the ONE error mapper of
// the REST API. Every answer under /1.0 is built here: sync, async (HTTP 202
// with a Location header and the operation as metadata) and error.
import type { Operation } from '@berth/engine';
import { codedErrorOf, errorCodes } from '../server/error-codes.ts';

export interface SyncEnvelope {
  type: 'sync';
  status: 'Success';
  status_code: 200;
  operation: '';
  error_code: 0;
  error: '';
  metadata: unknown;
}

export interface AsyncEnvelope {
  type: 'async';
  status: 'Operation created';
  status_code: 100;
  operation: string;
  error_code: 0;
  error: '';
  metadata: Operation;
}

export interface ErrorEnvelope {
  type: 'error';
  status: '';
  status_code: 0;
  operation: '';
  error_code: number;
  error: string;
  metadata: null;
}

export type Envelope = SyncEnvelope | AsyncEnvelope | ErrorEnvelope;

/** What a route answers; the handler writes it. */
export type RestResult =
  | { kind: 'json'; status: number; body: Envelope; headers?: Record<string, string> }
  | {
      kind: 'raw';
      status: number;
      headers: Record<string, string>;
      body: Buffer | string | NodeJS.ReadableStream;
    }
  /** The route wrote the response itself (long-lived streams). */
  | { kind: 'handled' };

export function sync(metadata: unknown, headers?: Record<string, string>): RestResult {
  return {
    kind: 'json',
    status: 200,
    body: {
      type: 'sync',
      status: 'Success',
      status_code: 200,
      operation: '',
      error_code: 0,
      error: '',
      metadata,
    },
    ...(headers ? { headers } : {}),
  };
}

/** LXD's EmptySyncResponse: metadata is an empty object. */
export function emptySync(headers?: Record<string, string>): RestResult {
  return sync({}, headers);
}

/** LXD's SyncResponseLocation: an empty sync envelope, HTTP 201 and a Location header. */
export function created(location: string): RestResult {
  return {
    ...(emptySync({ Location: location }) as { kind: 'json'; body: Envelope }),
    status: 201,
  };
}

export function asyncOp(operation: Operation): RestResult {
  const url = `/1.0/operations/${operation.id}`;
  return {
    kind: 'json',
    status: 202,
    body: {
      type: 'async',
      status: 'Operation created',
      status_code: 100,
      operation: url,
      error_code: 0,
      error: '',
      metadata: operation,
    },
    headers: { Location: url },
  };
}

/** Errors the REST layer itself raises (auth, routing, bodies, headers). */
export class RestError extends Error {
  override readonly name = 'RestError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
  static badRequest(message: string) {
    return new RestError(400, message);
  }
  static notFound(message = 'not found') {
    return new RestError(404, message);
  }
}

/**
 * THE error mapper: any thrown value → LXD's error envelope and HTTP status.
 * An EngineError or a refusal of authorize() → the status of the one table
 * (server/error-codes.ts) with its message (an AccessError's LXD wording);
 * RestError → its status; anything else → 500 with its message (as LXD's
 * SmartError does).
 */
export function errorResult(error: unknown): RestResult {
  let status = 500;
  let message = error instanceof Error ? error.message : String(error);
  const coded = codedErrorOf(error);
  if (coded) {
    status = errorCodes[coded.code].http;
    message = coded.lxdMessage ?? coded.message;
  } else if (error instanceof RestError) {
    status = error.status;
  } else if (
    error instanceof SyntaxError ||
    (error instanceof Error && error.name === 'ZodError')
  ) {
    status = 400;
  }
  return { kind: 'json', status, body: errorEnvelope(status, message) };
}

export function errorEnvelope(status: number, message: string): ErrorEnvelope {
  return {
    type: 'error',
    status: '',
    status_code: 0,
    operation: '',
    error_code: status,
    error: message,
    metadata: null,
  };
}
