import { describe, expect, it } from 'vitest';
import { isEngineError } from '../errors';
import { validDevices } from './devices';
import { CONTAINER, PROFILE, VM, problemOf } from './devices.test-helpers';

describe('proxy', () => {
  const proxy = (extra: Record<string, string>) => ({
    p: { type: 'proxy', listen: 'tcp:0.0.0.0:80', connect: 'tcp:127.0.0.1:8080', ...extra },
  });

  it.each([
    [proxy({})],
    [proxy({ listen: 'tcp:0.0.0.0:8000-8002', connect: 'tcp:127.0.0.1:9000-9002' })],
    [proxy({ listen: 'tcp:0.0.0.0:8000-8002', connect: 'tcp:127.0.0.1:9000' })],
    [
      proxy({
        listen: 'unix:/run/app.sock',
        connect: 'tcp:127.0.0.1:80',
        uid: '1000',
        gid: '1000',
        mode: '0660',
      }),
    ],
  ])('accepts %j', (devices) => {
    expect(problemOf(devices)).toBeUndefined();
  });

  it.each([
    [proxy({ bind: 'instance' }), 'bind'],
    [proxy({ bind: 'host', proxy_protocol: 'true' }), 'proxy_protocol'],
    [proxy({ listen: 'tcp:10.0.3.1:80', connect: 'tcp:10.0.3.10:80', nat: 'true' }), 'nat'],
    [proxy({ listen: 'udp:[fd42::1]:53', connect: 'udp:[fd42::10]:53', nat: 'true' }), 'nat'],
    [proxy({ listen: 'udp:127.0.0.1:53', connect: 'udp:127.0.0.1:53' }), 'listen'],
    [proxy({ 'security.uid': '1000', 'security.gid': '1000' }), 'security.uid'],
  ])('takes %j as LXD does, but refuses it on containers as not implemented', (devices, key) => {
    expect(problemOf(devices, PROFILE)).toBeUndefined();
    let error: unknown;
    try {
      validDevices(devices, CONTAINER);
    } catch (caught) {
      error = caught;
    }
    expect(isEngineError(error, 'NOT_IMPLEMENTED')).toBe(true);
    expect((error as Error).message).toContain(`devices["p"]["${key}"]: `);
  });

  it.each([
    [
      { p: { type: 'proxy', connect: 'tcp:127.0.0.1:80' } },
      'devices["p"]["listen"]: Required value',
    ],
    [proxy({ listen: '' }), 'devices["p"]["listen"]: Required value'],
    [
      proxy({ listen: 'tcp:127.0.0.1' }),
      'devices["p"]["listen"]: address 127.0.0.1: missing port in address',
    ],
    [proxy({ connect: 'http:x' }), 'devices["p"]["connect"]: Unknown protocol type "http"'],
    [proxy({ listen: 'tcp:localhost:80' }), 'Not an IP address "localhost"'],
    [
      proxy({ bind: 'guestx' }),
      'devices["p"]["bind"]: Invalid binding side given. Must be "host" or "instance"',
    ],
    [proxy({ nat: 'perhaps' }), 'devices["p"]["nat"]: Invalid value for a boolean "perhaps"'],
    [
      proxy({ connect: 'tcp:127.0.0.1:1-2' }),
      'devices["p"]["connect"]: Mismatch between listen port(s) and connect port(s) count',
    ],
    [
      proxy({ listen: 'unix:/run/a.sock', connect: 'tcp:127.0.0.1:1-2' }),
      'Mismatch between listen port(s) and connect port(s) count',
    ],
    [
      proxy({ connect: 'udp:127.0.0.1:53', proxy_protocol: 'true' }),
      'The PROXY header can only be sent to tcp servers in non-nat mode',
    ],
    [
      proxy({ uid: '1000' }),
      'devices["p"]["uid"]: Only proxy devices for non-abstract unix sockets can carry uid, gid, or mode properties',
    ],
    [
      proxy({ listen: 'unix:@abstract', mode: '0600' }),
      'Only proxy devices for non-abstract unix sockets',
    ],
    [
      proxy({ nat: 'true' }),
      'devices["p"]["listen"]: Cannot listen on wildcard address "0.0.0.0" when in nat mode',
    ],
    [
      proxy({ nat: 'true', listen: 'tcp:10.0.0.1:80', bind: 'instance' }),
      'devices["p"]["bind"]: Only host-bound proxies can use NAT',
    ],
    [
      proxy({ nat: 'true', listen: 'tcp:10.0.0.1:80', connect: 'udp:10.0.0.2:80' }),
      'Proxying tcp <-> udp is not supported when using NAT',
    ],
    [
      proxy({ nat: 'true', listen: 'tcp:10.0.0.1:80', connect: 'unix:/run/x' }),
      'Proxying tcp <-> unix is not supported when using NAT',
    ],
    [
      proxy({ nat: 'true', listen: 'tcp:10.0.0.1:80', connect: 'tcp:[fd42::1]:80' }),
      'Cannot mix IP versions between listen and connect in nat mode',
    ],
  ])('refuses %j', (devices, message) => {
    expect(problemOf(devices)).toContain(message);
  });

  it('needs NAT mode on VMs', () => {
    expect(problemOf(proxy({}), VM)).toBe(
      'devices["p"]["nat"]: Only NAT mode is supported for proxies on VM instances',
    );
    expect(
      problemOf(proxy({ listen: 'tcp:10.0.0.1:80', connect: 'tcp:10.0.0.2:80', nat: 'true' }), VM),
    ).toBeUndefined();
  });
});
