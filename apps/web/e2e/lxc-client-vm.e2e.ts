// Virtual machines through Debian's real `lxc` client (lxd-client 5.0.2)
// on the real server's unix socket, as an LXD user works with them: a VM
// image (LXD's layout: metadata.yaml + qcow2 rootfs.img, with Berth's boot/
// for direct kernel boot) imported and listed as VIRTUAL-MACHINE, launched
// with --vm, commands with output, exit code and stdin through the guest
// agent, files pushed and pulled, stopped, listed, exported byte for byte
// and deleted. A real QEMU (TCG) and qemu-guest-agent in the guest.
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTinyVmImage } from '../../../packages/engine/src/images/tiny-vm-image.ts';
import * as pty from 'node-pty';
import { LXC, lxcCli, type LxcCli } from './helpers/lxc-cli.ts';
import { BUILD_CACHE_DIR, startServer, type RunningServer } from './helpers/server.ts';

const suffix = randomBytes(3).toString('hex');
const VM = `vm-${suffix}`;
const ALIAS = 'tiny-vm';
const BOOT_WAIT_MS = 180_000;

let server: RunningServer;
let lxc: LxcCli;
let work: string;
let tarball: string;
let fingerprint = '';

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** A unified VM image tarball as `lxc image export` of an LXD VM gives one, plus boot/. */
async function writeVmImage(dir: string): Promise<string> {
  const image = path.join(dir, 'image');
  await buildTinyVmImage({
    cacheDir: path.join(BUILD_CACHE_DIR, 'tiny-vm'),
    outDir: image,
    disk: { sizeBytes: 64 * 1024 * 1024 },
  });
  const arch = os.arch() === 'x64' ? 'x86_64' : os.arch();
  await writeFile(
    path.join(image, 'metadata.yaml'),
    `architecture: ${arch}\ncreation_date: ${Math.floor(Date.now() / 1000)}\nproperties:\n  os: busybox\n  description: tiny VM\n`,
  );
  const out = path.join(dir, 'tiny-vm.tar.gz');
  const tar = spawnSync('tar', ['-czf', out, '-C', image, 'metadata.yaml', 'rootfs.img', 'boot'], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (tar.status !== 0) throw new Error(`tar failed: ${tar.stderr}`);
  return out;
}

beforeAll(async () => {
  server = await startServer();
  lxc = await lxcCli(server.dataDir);
  work = await mkdtemp(path.join(os.tmpdir(), 'berth-lxc-vm-'));
  tarball = await writeVmImage(work);
}, 300_000);

afterAll(async () => {
  if (lxc) {
    await lxc.run(['delete', '--force', VM]).catch(() => undefined);
    await lxc.close();
  }
  await server?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

afterAll(async () => {
  if (lxc) {
    for (const name of [VM, `${VM}-b`, `${VM}-c`, `${VM}-p`])
      await lxc.run(['delete', '--force', name]).catch(() => undefined);
    await lxc.close();
  }
  await server?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('virtual machines through the lxc client', () => {
  it('imports a VM image and lists it as VIRTUAL-MACHINE', async () => {
    const out = await lxc.ok(['image', 'import', tarball, '--alias', ALIAS]);
    fingerprint = /fingerprint: ([0-9a-f]{64})/.exec(out)?.[1] ?? '';
    expect(fingerprint, out).toBe(sha256(tarball));
    expect(await lxc.csv(['image', 'list', '-c', 'lfdt'])).toEqual([
      [ALIAS, fingerprint.slice(0, 12), 'tiny VM', 'VIRTUAL-MACHINE'],
    ]);
  });

  it('launches it with --vm and runs commands through the guest agent', async () => {
    await lxc.ok(['launch', ALIAS, VM, '--vm', '-c', 'limits.memory=256MiB']);
    let last = '';
    const deadline = Date.now() + BOOT_WAIT_MS;
    for (;;) {
      const probe = await lxc.run(['exec', VM, '--', 'true']);
      if (probe.status === 0) break;
      last = probe.stderr;
      if (Date.now() > deadline) throw new Error(`the guest agent never answered: ${last}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
    // While the guest boots, LXD's words.
    expect(last === '' || /VM agent isn't currently running/.test(last), last).toBe(true);

    const echo = await lxc.run(['exec', VM, '--', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(echo).toMatchObject({ status: 3, stdout: 'out\n', stderr: 'err\n' });
    // stdin reaches the guest's process.
    const upper = await lxc.run(['exec', VM, '--', 'tr', 'a-z', 'A-Z'], {
      input: 'through the agent\n',
    });
    expect(upper).toMatchObject({ status: 0, stdout: 'THROUGH THE AGENT\n' });
    expect(await lxc.ok(['exec', VM, '--', 'uname', '-r'])).toMatch(/^6\.1\.\d+-\d+-amd64\n$/);
    expect(await lxc.csv(['list', VM, '-c', 'nst'])).toEqual([[VM, 'RUNNING', 'VIRTUAL-MACHINE']]);
    // LXD's VGA console here is SPICE for remote-viewer; Berth says where its VNC screen is.
    const vga = await lxc.run([
      'query',
      '-X',
      'POST',
      `/1.0/instances/${VM}/console`,
      '--data',
      '{"type":"vga"}',
    ]);
    expect(vga.status).not.toBe(0);
    expect(vga.stderr).toContain('served as VNC to the web console');
  });

  it('gives `lxc exec v1 -- sh` a terminal in the guest that follows resizes', async () => {
    const term = pty.spawn(LXC, ['exec', VM, '--', 'sh'], { cols: 80, rows: 24, env: lxc.env });
    let screen = '';
    term.onData((d) => (screen += d));
    const exited = new Promise<number>((resolve) =>
      term.onExit(({ exitCode }) => resolve(exitCode)),
    );
    const until = async (what: string, seen: () => boolean) => {
      const deadline = Date.now() + 60_000;
      while (!seen()) {
        if (Date.now() > deadline) throw new Error(`no ${what}; screen: ${JSON.stringify(screen)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    await until('prompt', () => screen.includes('#'));
    term.write('tty; stty size\r');
    await until('the size', () => /\/dev\/pts\/\d+\r\n24 80/.test(screen));
    term.resize(120, 40);
    await until('the new size', () => {
      term.write('stty size\r');
      return screen.includes('40 120');
    });
    term.write('exit 5\r');
    expect(await exited).toBe(5);
  });

  it('pushes and pulls files, and deletes them', async () => {
    const local = path.join(work, 'payload.bin');
    await writeFile(local, randomBytes(200_000));
    await lxc.ok(['file', 'push', local, `${VM}/root/payload.bin`]);
    const back = path.join(work, 'back.bin');
    await lxc.ok(['file', 'pull', `${VM}/root/payload.bin`, back]);
    expect(sha256(back)).toBe(sha256(local));
    expect(await lxc.ok(['exec', VM, '--', 'wc', '-c', '/root/payload.bin'])).toMatch(
      /^\s*200000 \/root\/payload.bin\n$/,
    );
    await lxc.ok(['file', 'delete', `${VM}/root/payload.bin`]);
    expect((await lxc.run(['exec', VM, '--', 'test', '-e', '/root/payload.bin'])).status).toBe(1);
  });

  it('keeps its memory through `lxc stop --stateful` and `lxc start`, and through a stateful snapshot', async () => {
    /** The tmpfs mark, once the agent answers again. */
    const mark = async () => {
      const deadline = Date.now() + BOOT_WAIT_MS;
      for (;;) {
        const read = await lxc.run(['exec', VM, '--', 'cat', '/run/mem/mark']);
        if (read.status === 0 || !/VM agent isn't currently running/.test(read.stderr))
          return read.stdout || read.stderr;
        if (Date.now() > deadline)
          throw new Error(`the guest agent never answered: ${read.stderr}`);
        await new Promise((r) => setTimeout(r, 500));
      }
    };
    // LXD's words without migration.stateful.
    const refused = await lxc.run(['stop', VM, '--stateful']);
    expect(refused.stderr).toContain('Stateful stop requires migration.stateful to be set to true');
    await lxc.ok(['config', 'set', VM, 'migration.stateful=true']);
    // Only the guest's memory holds it: any boot loses it.
    await lxc.ok([
      'exec',
      VM,
      '--',
      'sh',
      '-c',
      'mkdir -p /run/mem && mount -t tmpfs mem /run/mem && echo kept > /run/mem/mark',
    ]);
    await lxc.ok(['stop', VM, '--stateful']);
    expect(await lxc.csv(['list', VM, '-c', 'ns'])).toEqual([[VM, 'STOPPED']]);
    await lxc.ok(['start', VM]);
    expect(await mark()).toBe('kept\n');

    await lxc.ok(['snapshot', VM, 'mem', '--stateful']);
    await lxc.ok(['exec', VM, '--', 'sh', '-c', 'echo changed > /run/mem/mark']);
    await lxc.ok(['restore', VM, 'mem', '--stateful']);
    expect(await mark()).toBe('kept\n');
    await lxc.ok(['delete', `${VM}/mem`]);
  });

  it('stops it gracefully, exports the image byte for byte, and deletes the VM', async () => {
    await lxc.ok(['stop', VM]);
    expect(await lxc.csv(['list', VM, '-c', 'ns'])).toEqual([[VM, 'STOPPED']]);
    const stopped = await lxc.run(['exec', VM, '--', 'true']);
    expect(stopped.status).not.toBe(0);
    expect(stopped.stderr).toMatch(/not running/i);

    const target = path.join(work, 'exported');
    await lxc.ok(['image', 'export', ALIAS, target]);
    const file = existsSync(`${target}.tar.gz`) ? `${target}.tar.gz` : target;
    expect(sha256(file)).toBe(fingerprint);

    // Published, it is a VM image that launches.
    expect(await lxc.ok(['publish', VM, '--alias', 'vm-pub'])).toMatch(
      /Instance published with fingerprint: [0-9a-f]{64}/,
    );
    expect(await lxc.csv(['image', 'list', 'vm-pub', '-c', 'lt'])).toEqual([
      ['vm-pub', 'VIRTUAL-MACHINE'],
    ]);
    await lxc.ok(['launch', 'vm-pub', `${VM}-p`, '--vm', '-c', 'limits.memory=256MiB']);
    const deadline = Date.now() + BOOT_WAIT_MS;
    while ((await lxc.run(['exec', `${VM}-p`, '--', 'true'])).status !== 0) {
      if (Date.now() > deadline) throw new Error('the published VM never answered');
      await new Promise((r) => setTimeout(r, 1000));
    }
    await lxc.ok(['delete', '--force', `${VM}-p`]);

    await lxc.ok(['delete', VM]);
    expect(await lxc.csv(['list', '-c', 'n'])).toEqual([]);
  });

  it("takes the image's type without --vm, and refuses a container from it in LXD's words", async () => {
    // The client sends the image's type: a VM, not a container.
    await lxc.ok(['init', ALIAS, `${VM}-b`]);
    expect(await lxc.csv(['list', `${VM}-b`, '-c', 'nt'])).toEqual([
      [`${VM}-b`, 'VIRTUAL-MACHINE'],
    ]);
    await lxc.ok(['delete', `${VM}-b`]);
    const body = JSON.stringify({
      name: `${VM}-c`,
      type: 'container',
      source: { type: 'image', fingerprint },
    });
    const refused = await lxc.run(['query', '-X', 'POST', '/1.0/instances', '--data', body]);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain(
      `Requested image's type "virtual-machine" doesn't match instance type "container"`,
    );
    expect(await lxc.csv(['list', '-c', 'n'])).toEqual([]);
  });
});
