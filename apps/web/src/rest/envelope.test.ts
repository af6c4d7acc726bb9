import { describe, expect, it } from 'vitest';
import type { Operation } from '@berth/engine';
import type { EngineErrorCode } from '@berth/engine';
import { errorCodes } from '../server/error-codes.ts';
import { AccessError } from '../server/policy.ts';
import { asyncOp, created, emptySync, errorResult, RestError, sync } from './envelope.ts';

import { lxdSamples } from '../../test/fixtures/lxd-samples.ts';

const reference = (name: string) => lxdSamples[name];

// The statuses LXD answers with, as the one table (server/error-codes.ts) must give them.
const table: Record<EngineErrorCode, number> = {
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  INVALID_ARGUMENT: 400,
  FORBIDDEN: 403,
  CONFLICT: 409,
  BUSY: 409,
  NOT_IMPLEMENTED: 501,
  DRIVER_UNAVAILABLE: 503,
  INTERNAL: 500,
};

class FakeEngineError extends Error {
  override readonly name = 'EngineError';
  constructor(
    readonly code: EngineErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const op: Operation = {
  id: 'cc6cef6d-ee93-43ec-a58c-abcd90643be9',
  class: 'task',
  description: 'Freezing instance',
  created_at: '2026-11-28T15:30:22.013643997Z',
  updated_at: '2026-11-28T15:30:22.013643997Z',
  status: 'Running',
  status_code: 103,
  resources: { instances: ['/1.0/instances/demo'] },
  metadata: null,
  may_cancel: false,
  err: '',
  location: 'none',
};

describe('the envelope', () => {
  it('sync has the keys and values of LXD 5.0.2', () => {
    const ref = reference('GET_instances.json');
    const result = sync(['/1.0/instances/demo']);
    expect(result.kind).toBe('json');
    if (result.kind !== 'json') return;
    expect(result.status).toBe(200);
    expect(result.body).toEqual(ref);
  });

  it('async is HTTP 202 with a Location header and the operation as metadata', () => {
    const ref = reference('PUT_instance_state_freeze_async.json');
    const result = asyncOp(op);
    if (result.kind !== 'json') throw new Error('json expected');
    expect(result.status).toBe(202);
    expect(result.headers).toEqual({ Location: `/1.0/operations/${op.id}` });
    expect(result.body).toEqual(ref);
  });

  it('empty sync and created (201 + Location)', () => {
    const e = emptySync();
    if (e.kind !== 'json') throw new Error('json expected');
    expect(e.body.metadata).toEqual({});
    const c = created('/1.0/profiles/web');
    if (c.kind !== 'json') throw new Error('json expected');
    expect(c.status).toBe(201);
    expect(c.headers).toEqual({ Location: '/1.0/profiles/web' });
    expect(c.body.type).toBe('sync');
  });
});

describe('the one error mapper', () => {
  it('maps a not-found engine error to LXD 404 envelope exactly', () => {
    const result = errorResult(new FakeEngineError('NOT_FOUND', 'Instance not found'));
    if (result.kind !== 'json') throw new Error('json expected');
    expect(result.status).toBe(404);
    expect(result.body).toEqual(reference('GET_instance_404.json'));
  });

  it('maps a bad name to 400 with the engine text', () => {
    const message =
      'Invalid instance name: Name can only contain alphanumeric and hyphen characters';
    const result = errorResult(new FakeEngineError('INVALID_ARGUMENT', message));
    if (result.kind !== 'json') throw new Error('json expected');
    expect(result.status).toBe(400);
    expect(result.body).toEqual(reference('POST_instances_bad_name.json'));
  });

  it('is the one table’s HTTP column', () => {
    for (const [code, status] of Object.entries(table))
      expect(errorCodes[code as EngineErrorCode].http).toBe(status);
  });

  it('answers a refusal of authorize() with its status and LXD’s words', () => {
    const r = errorResult(
      new AccessError('NOT_FOUND', 'Project "p" not found', 'Project not found'),
    );
    if (r.kind !== 'json') throw new Error('json expected');
    expect([r.status, r.body.error]).toEqual([404, 'Project not found']);
  });

  it('uses every code of the table', () => {
    for (const [code, status] of Object.entries(table)) {
      const r = errorResult(new FakeEngineError(code as EngineErrorCode, 'x'));
      if (r.kind !== 'json') throw new Error('json expected');
      expect(r.status).toBe(status);
      expect(r.body.error_code).toBe(status);
    }
  });

  it('finds an engine error given as a cause', () => {
    const wrapped = new Error('outer', { cause: new FakeEngineError('CONFLICT', 'busy') });
    const r = errorResult(wrapped);
    if (r.kind !== 'json') throw new Error('json expected');
    expect(r.status).toBe(409);
    expect(r.body.error).toBe('busy');
  });

  it('REST errors keep their status; anything else is 500', () => {
    const a = errorResult(new RestError(401, 'Not authorized'));
    const b = errorResult(new Error('boom'));
    if (a.kind !== 'json' || b.kind !== 'json') throw new Error('json expected');
    expect([a.status, a.body.error]).toEqual([401, 'Not authorized']);
    expect([b.status, b.body.error, b.body.metadata]).toEqual([500, 'boom', null]);
  });
});
