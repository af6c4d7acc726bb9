// What a container's `proxy` device runs (LXD's forkproxy, done with socat).
// Pure: from the device and the container's init pid to argument vectors.
//
// Node cannot setns(2), and one socat cannot listen in one network namespace
// and connect from another. So a device is a pair of socats per port,
// joined by a unix socket in the instance's runtime directory (a path, so
// it is reachable from any network namespace):
//
//   host netns:       socat <listen>,fork          UNIX-CONNECT:<bridge>
//   container netns:  nsenter --net=/proc/<init>/ns/net
//                     socat UNIX-LISTEN:<bridge>,fork <connect>
//
// Both fork per connection without exec'ing anything: ~1.7 ms per
// connection on loopback, where exec'ing `nsenter socat` per connection
// (socat EXEC:) cost ~500 ms because of socat's half-close linger. A unix
// `connect` path is reached through /proc/<init>/root from the host side
// alone (the path lives in the container's mount namespace, not its netns).
import { EngineError } from '../../errors.ts';
import { containerProxyGap, parseProxyAddress, type ProxyAddress } from '../../config/index.ts';
import { ipVersion } from '../../config/value-checks.ts';

/** The longest path a unix socket address holds (sun_path, with its NUL). */
const SUN_PATH_MAX = 107;

export interface ForwarderSpec {
  /** The command and its arguments, as spawned. */
  argv: string[];
  /** What /proc/<pid>/cmdline shows once running (nsenter execs socat): checked before a kill. */
  cmdline: string[];
}

export interface ProxyPlan {
  device: string;
  /** Started in order (a bridge's container side before its host side); stopped all together. */
  forwarders: ForwarderSpec[];
}

export interface ProxyContext {
  /** The container's init, as the host sees it. */
  initPid: number;
  /** Where the bridge sockets go (the instance's runtime directory). */
  runtimeDir: string;
}

/** socat's options may not carry these (`,` and `:` separate them; `!!` pairs addresses). */
function socatValue(value: string, field: string): string {
  if (/[,:!\s\\"'\0]/.test(value))
    throw EngineError.invalid(field, `${JSON.stringify(value)} cannot be passed to the forwarder`);
  return value;
}

function listenAddress(
  address: ProxyAddress,
  port: number | undefined,
  device: Record<string, string>,
  field: string,
): string {
  if (address.connType === 'unix') {
    if (address.abstract)
      return `ABSTRACT-LISTEN:${socatValue(address.address.slice(1), field)},fork`;
    // LXD's defaults: owned by root, mode 0644.
    const options = ['fork', 'unlink-early', `perm=${device.mode || '0644'}`];
    if (device.uid) options.push(`user=${device.uid}`);
    if (device.gid) options.push(`group=${device.gid}`);
    return `UNIX-LISTEN:${socatValue(address.address, field)},${options.join(',')}`;
  }
  const host = address.address;
  const options = [`${port}`, 'fork', 'reuseaddr'];
  if (host === '') return `TCP-LISTEN:${options.join(',')}`;
  return ipVersion(host) === 6
    ? `TCP6-LISTEN:${options.join(',')},bind=[${host}]`
    : `TCP-LISTEN:${options.join(',')},bind=${host}`;
}

function connectAddress(address: ProxyAddress, port: number | undefined): string {
  if (address.connType === 'unix') return `ABSTRACT-CONNECT:${address.address.slice(1)}`;
  const host = address.address === '' ? '127.0.0.1' : address.address;
  return ipVersion(host) === 6 ? `TCP6:[${host}]:${port}` : `TCP4:${host}:${port}`;
}

/** Throws NOT_IMPLEMENTED (naming the key) for what the socat forwarder cannot do. */
function checkSupported(name: string, device: Record<string, string>): void {
  const gap = containerProxyGap(device);
  if (gap === undefined) return;
  const field = `devices["${name}"]["${gap.key ?? ''}"]`;
  throw new EngineError('NOT_IMPLEMENTED', `${field}: ${gap.reason}`, { field });
}

/** The forwarders of one proxy device. Throws INVALID_ARGUMENT / NOT_IMPLEMENTED naming the device's key. */
export function planProxy(
  name: string,
  device: Record<string, string>,
  context: ProxyContext,
): ProxyPlan {
  checkSupported(name, device);
  const listenField = `devices["${name}"]["listen"]`;
  const connectField = `devices["${name}"]["connect"]`;
  const listen = parseProxyAddress(device.listen ?? '', listenField);
  const connect = parseProxyAddress(device.connect ?? '', connectField);
  const listenPorts: (number | undefined)[] =
    listen.connType === 'unix' ? [undefined] : listen.ports;
  const connectPorts: (number | undefined)[] =
    connect.connType === 'unix' ? [undefined] : connect.ports;
  if (connectPorts.length !== 1 && connectPorts.length !== listenPorts.length) {
    throw EngineError.invalid(
      connectField,
      'Mismatch between listen port(s) and connect port(s) count',
    );
  }

  const forwarders: ForwarderSpec[] = [];
  listenPorts.forEach((listenPort, index) => {
    const connectPort = connectPorts.length === 1 ? connectPorts[0] : connectPorts[index];
    const from = listenAddress(listen, listenPort, device, listenField);
    if (connect.connType === 'unix' && !connect.abstract) {
      // A socket file in the container's mount namespace: reachable from the host as is.
      const target = `/proc/${context.initPid}/root${socatValue(connect.address, connectField)}`;
      const argv = ['socat', from, `UNIX-CONNECT:${target}`];
      forwarders.push({ argv, cmdline: argv });
      return;
    }
    const bridge = `${context.runtimeDir}/${name}.${index}.sock`;
    if (bridge.length > SUN_PATH_MAX) {
      throw new EngineError(
        'INTERNAL',
        `devices["${name}"]: the forwarder's socket path is too long for a unix socket (${bridge})`,
      );
    }
    const inside = [
      'socat',
      `UNIX-LISTEN:${bridge},fork,unlink-early`,
      connectAddress(connect, connectPort),
    ];
    forwarders.push({
      argv: ['nsenter', `--net=/proc/${context.initPid}/ns/net`, '--', ...inside],
      cmdline: inside,
    });
    const outside = ['socat', from, `UNIX-CONNECT:${bridge}`];
    forwarders.push({ argv: outside, cmdline: outside });
  });
  return { device: name, forwarders };
}

/** The proxy devices among `devices`, sorted by name. */
export function proxyDevices(
  devices: Record<string, Record<string, string>>,
): [string, Record<string, string>][] {
  return Object.entries(devices)
    .filter(([, device]) => device.type === 'proxy')
    .sort(([a], [b]) => a.localeCompare(b));
}

/** Checks every proxy device without a running container (at create and config time). */
export function checkProxyDevices(devices: Record<string, Record<string, string>>): void {
  for (const [name, device] of proxyDevices(devices))
    planProxy(name, device, { initPid: 1, runtimeDir: '/run' });
}
