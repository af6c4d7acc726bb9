// Managed bridges through Debian's real `lxc` 5.0.2 on the real server's
// unix socket (issue 12): create (NAT off, as every test here), list, show,
// set and unset a key, info (the bridge's state on the host), list-leases,
// and delete; each checked on the host too (`ip link`), and the bridge is
// gone when the test ends. Created with the test's own name, removed by it.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lxcCli, type LxcCli } from './helpers/lxc-cli.ts';
import { startServer, type RunningServer } from './helpers/server.ts';

const BRIDGE = `bn${randomBytes(3).toString('hex')}`;

let server: RunningServer;
let lxc: LxcCli;

/** The host's view of an interface: `ip -j link show`, or null when it does not exist. */
function hostLink(name: string): { operstate?: string; flags?: string[] } | null {
  try {
    const out = execFileSync('ip', ['-j', 'link', 'show', 'dev', name], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return (JSON.parse(out) as { operstate?: string; flags?: string[] }[])[0] ?? null;
  } catch {
    return null;
  }
}

beforeAll(async () => {
  server = await startServer();
  lxc = await lxcCli(server.dataDir);
}, 120_000);

afterAll(async () => {
  if (lxc) {
    await lxc.run(['network', 'delete', BRIDGE]).catch(() => undefined);
    await lxc.close();
  }
  await server?.stop();
  // Never left on the host, whatever failed above.
  if (hostLink(BRIDGE)) execFileSync('ip', ['link', 'delete', BRIDGE]);
});

describe('lxc network on Berth', () => {
  it('creates a bridge that is up on the host, and lists and shows it', async () => {
    await lxc.ok([
      'network',
      'create',
      BRIDGE,
      'ipv4.address=auto',
      'ipv4.nat=false',
      'ipv6.address=none',
    ]);
    const link = hostLink(BRIDGE);
    expect(link?.flags).toContain('UP');
    const rows = await lxc.csv(['network', 'list']);
    expect(rows.find((r) => r[0] === BRIDGE)?.slice(1, 3)).toEqual(['bridge', 'YES']);
    const shown = await lxc.ok(['network', 'show', BRIDGE]);
    expect(shown).toMatch(/ipv4\.address: 10\.\d+\.\d+\.1\/24/);
    expect(shown).toContain('ipv4.nat: "false"');
  });

  it('sets and unsets a key, and says which key is wrong', async () => {
    await lxc.ok(['network', 'set', BRIDGE, 'ipv4.dhcp', 'false']);
    expect((await lxc.ok(['network', 'get', BRIDGE, 'ipv4.dhcp'])).trim()).toBe('false');
    await lxc.ok(['network', 'unset', BRIDGE, 'ipv4.dhcp']);
    expect((await lxc.ok(['network', 'get', BRIDGE, 'ipv4.dhcp'])).trim()).toBe('');
    const bad = await lxc.run(['network', 'set', BRIDGE, 'ipv4.nat', 'maybe']);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('ipv4.nat');
    expect((await lxc.ok(['network', 'get', BRIDGE, 'ipv4.nat'])).trim()).toBe('false');
  });

  it("shows the bridge's state and its (empty) leases", async () => {
    const info = await lxc.ok(['network', 'info', BRIDGE]);
    expect(info).toContain(`Name: ${BRIDGE}`);
    expect(info).toMatch(/State: up/);
    expect(await lxc.csv(['network', 'list-leases', BRIDGE])).toEqual([]);
  });

  it('deletes it, on the host too', async () => {
    await lxc.ok(['network', 'delete', BRIDGE]);
    expect(hostLink(BRIDGE)).toBeNull();
    expect((await lxc.csv(['network', 'list'])).map((r) => r[0])).not.toContain(BRIDGE);
  });
});
