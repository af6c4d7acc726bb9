import { describe, expect, it } from 'vitest';
import { isEngineError } from '../../errors.ts';
import { checkProxyDevices, planProxy } from './proxy-plan.ts';

const context = { initPid: 4242, runtimeDir: '/var/lib/berth/lxc/default_c1/proxy' };
const nsenter = ['nsenter', '--net=/proc/4242/ns/net', '--'];

function codeOf(work: () => unknown): { code: string; message: string } {
  try {
    work();
  } catch (error) {
    if (isEngineError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected a failure');
}

describe('planProxy', () => {
  it('bridges a host tcp port to a port in the container through a unix socket', () => {
    const plan = planProxy(
      'web',
      { type: 'proxy', listen: 'tcp:127.0.0.1:8080', connect: 'tcp:127.0.0.1:80' },
      context,
    );
    const bridge = `${context.runtimeDir}/web.0.sock`;
    expect(plan.forwarders).toEqual([
      {
        argv: [...nsenter, 'socat', `UNIX-LISTEN:${bridge},fork,unlink-early`, 'TCP4:127.0.0.1:80'],
        cmdline: ['socat', `UNIX-LISTEN:${bridge},fork,unlink-early`, 'TCP4:127.0.0.1:80'],
      },
      {
        argv: ['socat', 'TCP-LISTEN:8080,fork,reuseaddr,bind=127.0.0.1', `UNIX-CONNECT:${bridge}`],
        cmdline: [
          'socat',
          'TCP-LISTEN:8080,fork,reuseaddr,bind=127.0.0.1',
          `UNIX-CONNECT:${bridge}`,
        ],
      },
    ]);
  });

  it('pairs port ranges, or sends every listen port to one connect port', () => {
    const pairs = planProxy(
      'r',
      { listen: 'tcp:0.0.0.0:8000-8002', connect: 'tcp:127.0.0.1:9000-9002' },
      context,
    );
    expect(pairs.forwarders.map((f) => f.cmdline.slice(1).join(' '))).toEqual([
      `UNIX-LISTEN:${context.runtimeDir}/r.0.sock,fork,unlink-early TCP4:127.0.0.1:9000`,
      `TCP-LISTEN:8000,fork,reuseaddr,bind=0.0.0.0 UNIX-CONNECT:${context.runtimeDir}/r.0.sock`,
      `UNIX-LISTEN:${context.runtimeDir}/r.1.sock,fork,unlink-early TCP4:127.0.0.1:9001`,
      `TCP-LISTEN:8001,fork,reuseaddr,bind=0.0.0.0 UNIX-CONNECT:${context.runtimeDir}/r.1.sock`,
      `UNIX-LISTEN:${context.runtimeDir}/r.2.sock,fork,unlink-early TCP4:127.0.0.1:9002`,
      `TCP-LISTEN:8002,fork,reuseaddr,bind=0.0.0.0 UNIX-CONNECT:${context.runtimeDir}/r.2.sock`,
    ]);
    const fanIn = planProxy(
      'f',
      { listen: 'tcp:[::1]:8000-8001', connect: 'tcp:[::1]:80' },
      context,
    );
    expect(fanIn.forwarders.map((f) => f.cmdline[2])).toEqual([
      'TCP6:[::1]:80',
      `UNIX-CONNECT:${context.runtimeDir}/f.0.sock`,
      'TCP6:[::1]:80',
      `UNIX-CONNECT:${context.runtimeDir}/f.1.sock`,
    ]);
    expect(fanIn.forwarders[1]?.cmdline[1]).toBe('TCP6-LISTEN:8000,fork,reuseaddr,bind=[::1]');
  });

  it('listens on a unix socket with its owner and mode, connects to a socket file from the host', () => {
    const plan = planProxy(
      'sock',
      {
        listen: 'unix:/run/app.sock',
        connect: 'unix:/run/app/inner.sock',
        uid: '1000',
        gid: '100',
        mode: '0660',
      },
      context,
    );
    expect(plan.forwarders).toEqual([
      {
        argv: [
          'socat',
          'UNIX-LISTEN:/run/app.sock,fork,unlink-early,perm=0660,user=1000,group=100',
          'UNIX-CONNECT:/proc/4242/root/run/app/inner.sock',
        ],
        cmdline: [
          'socat',
          'UNIX-LISTEN:/run/app.sock,fork,unlink-early,perm=0660,user=1000,group=100',
          'UNIX-CONNECT:/proc/4242/root/run/app/inner.sock',
        ],
      },
    ]);
    const abstract = planProxy('a', { listen: 'unix:@outer', connect: 'unix:@inner' }, context);
    expect(abstract.forwarders.map((f) => f.cmdline.slice(1))).toEqual([
      [`UNIX-LISTEN:${context.runtimeDir}/a.0.sock,fork,unlink-early`, 'ABSTRACT-CONNECT:inner'],
      ['ABSTRACT-LISTEN:outer,fork', `UNIX-CONNECT:${context.runtimeDir}/a.0.sock`],
    ]);
  });

  it('refuses, naming the key, what it cannot forward', () => {
    expect(
      codeOf(() =>
        planProxy('w', { listen: 'tcp:127.0.0.1:99999', connect: 'tcp:127.0.0.1:80' }, context),
      ),
    ).toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('devices["w"]["listen"]'),
    });
    expect(
      codeOf(() =>
        planProxy(
          'w',
          { listen: 'tcp:127.0.0.1:80', connect: 'tcp:127.0.0.1:80', nat: 'true' },
          context,
        ),
      ),
    ).toMatchObject({
      code: 'NOT_IMPLEMENTED',
      message: expect.stringContaining('devices["w"]["nat"]'),
    });
    expect(
      codeOf(() =>
        planProxy('w', { listen: 'udp:127.0.0.1:53', connect: 'udp:127.0.0.1:53' }, context),
      ),
    ).toMatchObject({
      code: 'NOT_IMPLEMENTED',
      message: expect.stringContaining('devices["w"]["listen"]'),
    });
    expect(
      codeOf(() =>
        planProxy('w', { listen: 'unix:/run/a,b', connect: 'tcp:127.0.0.1:80' }, context),
      ),
    ).toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('devices["w"]["listen"]'),
    });
    expect(
      codeOf(() =>
        planProxy(
          'w',
          { listen: 'tcp:127.0.0.1:80', connect: 'tcp:127.0.0.1:80' },
          { initPid: 1, runtimeDir: `/${'x'.repeat(120)}` },
        ),
      ),
    ).toMatchObject({ code: 'INTERNAL', message: expect.stringContaining('too long') });
  });

  it('checks only proxy devices', () => {
    expect(() =>
      checkProxyDevices({
        root: { type: 'disk', path: '/' },
        web: { type: 'proxy', listen: 'tcp:127.0.0.1:1', connect: 'tcp:127.0.0.1:2' },
      }),
    ).not.toThrow();
    expect(() =>
      checkProxyDevices({
        web: {
          type: 'proxy',
          listen: 'tcp:127.0.0.1:1',
          connect: 'tcp:127.0.0.1:2',
          bind: 'instance',
        },
      }),
    ).toThrow(/devices\["web"\]\["bind"\]/);
  });
});
