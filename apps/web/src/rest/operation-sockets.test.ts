// Who may connect a websocket operation's channels and see its secrets.
import type { Operation } from '@berth/engine';
import { describe, expect, it } from 'vitest';
import type { ProjectRole } from '../server/policy.ts';
import type { RestUser } from './auth.ts';
import { errorResult, RestError } from './envelope.ts';
import { OperationSockets, type SocketOperation } from './operation-sockets.ts';
import { principalOf } from './principal.ts';
import { channelOfSecret } from './ws-protocol.ts';

const secrets = { '0': 'a'.repeat(64), control: 'b'.repeat(64) };

function fakeExec(project = 'p1'): SocketOperation & { claimed: string[] } {
  const claimed: string[] = [];
  return {
    project,
    action: 'exec',
    claimed,
    secretMetadata: () => ({ fds: { ...secrets }, environment: { TOKEN: 'hunter2' } }),
    claim(secret) {
      const channel = channelOfSecret(secrets, secret);
      if (!channel) throw new RestError(403, 'Invalid websocket secret');
      if (claimed.includes(channel))
        throw RestError.badRequest('Websocket number already connected');
      claimed.push(channel);
      return channel;
    },
    attach() {},
    abort() {},
  };
}

function user(id: number, role?: ProjectRole, extra: Partial<RestUser> = {}): RestUser {
  return {
    id,
    username: `u${id}`,
    mustChangePassword: false,
    isAdmin: false,
    roles: new Map(role ? [['p1', role]] : []),
    via: 'session',
    ...extra,
  };
}

const owner = user(1, 'operator', { via: 'token', tokenId: 10 } as Partial<RestUser>);
const otherOperator = user(2, 'operator');
const serverAdmin = user(3, undefined, { isAdmin: true });

function refusal(fn: () => unknown): { status: number; message: string } | null {
  try {
    fn();
    return null;
  } catch (error) {
    // A RestError or a refusal of authorize(), as the REST API would answer it.
    const result = errorResult(error);
    if (result.kind !== 'json' || result.status >= 500) throw error;
    return { status: result.status, message: result.body.error };
  }
}

const operation = (id: string): Operation => ({
  id,
  class: 'websocket',
  description: 'Executing command',
  created_at: '',
  updated_at: '',
  status: 'Running',
  status_code: 103,
  resources: null,
  metadata: { command: ['sh'], interactive: true },
  may_cancel: false,
  err: '',
  location: 'none',
});

describe('OperationSockets', () => {
  it('lets the owner connect; anyone else gets the wrong-secret answer, right secret or not', () => {
    const sockets = new OperationSockets();
    const exec = fakeExec();
    sockets.register('op1', exec, principalOf(owner));
    const wrong = refusal(() => sockets.claim('op1', owner, 'c'.repeat(64)));
    expect(wrong).toEqual({ status: 403, message: 'Invalid websocket secret' });
    for (const intruder of [otherOperator, serverAdmin, user(1, 'operator')]) {
      expect(refusal(() => sockets.claim('op1', intruder, secrets['0']))).toEqual(wrong);
    }
    // Nobody took a channel: the owner connects both.
    expect(exec.claimed).toEqual([]);
    expect(sockets.claim('op1', owner, secrets['0']).channel).toBe('0');
    expect(sockets.claim('op1', owner, secrets.control).channel).toBe('control');
  });

  it('answers a hidden project’s operation exactly as an unknown id', () => {
    const sockets = new OperationSockets();
    sockets.register('op1', fakeExec(), principalOf(owner));
    const outsider = user(4);
    const unknown = refusal(() => sockets.claim('nope', outsider, secrets['0']));
    expect(unknown).toEqual({ status: 404, message: 'Operation not found' });
    expect(refusal(() => sockets.claim('op1', outsider, secrets['0']))).toEqual(unknown);
  });

  it('still refuses a role too low in a visible project', () => {
    const sockets = new OperationSockets();
    sockets.register('op1', fakeExec(), principalOf(owner));
    expect(refusal(() => sockets.claim('op1', user(5, 'viewer'), secrets['0']))?.status).toBe(403);
  });

  it('shows the secrets and environment to the owner only, while the operation runs', () => {
    const sockets = new OperationSockets();
    const unregister = sockets.register('op1', fakeExec(), principalOf(owner));
    expect(sockets.shownTo(operation('op1'), owner).metadata).toEqual({
      command: ['sh'],
      interactive: true,
      fds: secrets,
      environment: { TOKEN: 'hunter2' },
    });
    for (const other of [otherOperator, serverAdmin, user(5, 'viewer')]) {
      expect(sockets.shownTo(operation('op1'), other).metadata).toEqual({
        command: ['sh'],
        interactive: true,
      });
    }
    unregister();
    expect(sockets.shownTo(operation('op1'), owner).metadata).toEqual({
      command: ['sh'],
      interactive: true,
    });
    expect(refusal(() => sockets.claim('op1', owner, secrets['0']))?.status).toBe(404);
  });
});
