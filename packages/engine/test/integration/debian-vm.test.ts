// The debian/12 virtual machine image (`lxc launch images:debian/12 --vm`):
// debootstrap from the host's archive with a kernel and qemu-guest-agent,
// made into a GPT disk with an EFI system partition (signed shim and GRUB)
// and an ext4 root, then a real VM from it under QEMU (TCG) booting through
// UEFI firmware (OVMF) with Secure Boot on, as LXD's images:debian/12 VM:
// systemd boots from /dev/vda2, grown to the root device's size, the agent
// runs commands, the first NIC gets a DHCP lease from the engine's bridge,
// a file and a UEFI variable written survive a clean reboot (the VM's
// qemu.nvram is kept in its volume, and copied with it), Secure Boot off
// boots too, and an interactive shell answers through the pty helper; a build
// cancelled mid-install leaves nothing behind. A full Debian
// under TCG takes a minute or more to boot: waits poll generously, nothing
// is timed. Every QEMU is stopped by its own pid.
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEngine, testBridgeName, waitFor, type TestEngine } from './helpers.ts';
import { qemuPid, requireQemu, succeeded, tearDownVmTest } from './vm-helpers.ts';

const project = 'default';
const vm = `t-uefi-${randomBytes(3).toString('hex')}`;
const copied = `${vm}-copy`;
const alias = `debian-12-vm-${randomBytes(2).toString('hex')}`;
const bridge = testBridgeName();
/** A systemd boot under TCG on a loaded two-core machine: minutes at worst, never asserted. */
const BOOT_WAIT_MS = 600_000;

let t: TestEngine | undefined;
let dataDir = '';
const started = Date.now();

function engine() {
  if (!t) throw new Error('the test engine did not start');
  return t.engine;
}

/** Polls until the guest agent runs a command (the agent starts once udev sees its port). */
async function agentAnswers(name = vm): Promise<void> {
  await waitFor(
    `the guest agent of ${name}`,
    () =>
      engine()
        .instances.exec(project, name, { command: ['true'] })
        .then((r) => r.exitCode)
        .catch((error: Error) => error.message),
    (code) => code === 0,
    BOOT_WAIT_MS,
  );
}

async function run(command: string[], name = vm): Promise<{ exitCode: number; stdout: string }> {
  return engine().instances.exec(project, name, { command });
}

/** The VM's UEFI variable store, in its volume. */
async function nvramOf(name: string): Promise<string> {
  const { view } = await engine().instances.resolve(project, name);
  return path.join(view.paths.dir, 'qemu.nvram');
}

/** A UEFI variable of the test's own (a GUID nobody else uses), through the guest's efivarfs. */
const EFI_VAR = '/sys/firmware/efi/efivars/BerthTest-7c5f1a3e-2b4d-4e6f-8a9b-0c1d2e3f4a5b';

/** The end of the serial console, for a failed wait's message. */
async function consoleTail(name = vm): Promise<string> {
  const log = await engine()
    .instances.consoleLog(project, name)
    .catch(() => '');
  return log.split('\n').slice(-40).join('\n');
}

describe('debian/12 as a virtual machine (real QEMU)', () => {
  beforeAll(async () => {
    await requireQemu();
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'berth-debian-vm-'));
    t = await startTestEngine(dataDir, { network: bridge });
  }, 60_000);

  afterAll(async () => {
    await tearDownVmTest(t, { dataDir, project, vms: [vm, copied], bridge, dirs: [dataDir] });
    console.log(`debian-vm.test.ts took ${((Date.now() - started) / 1000).toFixed(0)} s in all`);
  }, 120_000);

  it(
    'builds the image: a qcow2 GPT disk with an EFI system partition, no kernel beside it',
    async () => {
      const buildStarted = Date.now();
      const op = await engine().images.buildDebian(project, { alias, vm: true });
      expect(op.may_cancel).toBe(true);
      const result = await succeeded(engine(), Promise.resolve(op));
      console.log(
        `debian/12 VM image built in ${((Date.now() - buildStarted) / 1000).toFixed(0)} s`,
      );
      const image = await engine().images.get(project, String(result['fingerprint']));
      expect(image.type).toBe('virtual-machine');
      expect(image.properties).toMatchObject({ os: 'debian', release: 'bookworm', variant: 'vm' });
      expect(image.properties['description']).toMatch(/^Debian 12 \(bookworm\) VM \(Linux 6\.1\./);
      expect((await engine().images.getAlias(project, alias)).type).toBe('virtual-machine');
      // The store's copy: LXD's VM layout (UEFI boots it; no boot/ for direct kernel boot), a qcow2 disk.
      const rootfs = await engine().images.rootfsPath(image.fingerprint);
      const disk = JSON.parse(
        execFileSync('qemu-img', ['info', '--output=json', path.join(rootfs, 'rootfs.img')], {
          encoding: 'utf8',
        }),
      ) as { format: string; 'virtual-size': number };
      expect(disk.format).toBe('qcow2');
      expect(disk['virtual-size']).toBeGreaterThanOrEqual(4 * 1024 ** 3);
      expect(existsSync(path.join(rootfs, 'boot'))).toBe(false);
    },
    40 * 60_000,
  );

  it(
    'boots through UEFI with Secure Boot, answers through the agent and takes a DHCP lease',
    async () => {
      await engine().instances.createAndWait(project, {
        name: vm,
        type: 'virtual-machine',
        source: { type: 'image', alias },
        config: { 'limits.memory': '1GiB' },
        devices: { root: { type: 'disk', path: '/', pool: 'default', size: '6GiB' } },
        start: true,
      });
      expect((await engine().instances.get(project, vm)).status).toBe('Running');
      // The firmware's variables: the instance's own copy of OVMF's (Microsoft keys enrolled).
      const nvram = await nvramOf(vm);
      expect(statSync(nvram).size).toBe(statSync('/usr/share/OVMF/OVMF_VARS_4M.ms.fd').size);
      await agentAnswers().catch(async (error: Error) => {
        throw new Error(`${error.message}\nconsole:\n${await consoleTail()}`);
      });
      // Booted by UEFI firmware, which enforced Secure Boot on shim, GRUB and the kernel.
      expect((await run(['test', '-d', '/sys/firmware/efi'])).exitCode).toBe(0);
      expect((await run(['mokutil', '--sb-state'])).stdout).toContain('SecureBoot enabled');
      expect(await consoleTail()).not.toMatch(/Security Violation/);

      const osRelease = await run(['cat', '/etc/os-release']);
      expect(osRelease.stdout).toContain('ID=debian');
      expect(osRelease.stdout).toContain('VERSION_ID="12"');
      // / is the image's disk, read-write.
      const mounts = await run(['cat', '/proc/mounts']);
      expect(mounts.stdout).toMatch(/^\/dev\/vda2 \/ ext4 rw/m);

      // `starting` while units still come up; then running (or degraded, a unit that failed).
      const state = await waitFor(
        'systemd to finish booting',
        () => run(['systemctl', 'is-system-running']),
        (r) => /^(running|degraded)$/m.test(r.stdout),
        BOOT_WAIT_MS,
      );
      expect(state.stdout.trim()).toMatch(/^(running|degraded)$/);
      if (state.stdout.trim() === 'degraded')
        console.log((await run(['systemctl', '--failed', '--no-legend'])).stdout);
      // The ESP, mounted by systemd from fstab once it has booted.
      expect((await run(['cat', '/proc/mounts'])).stdout).toMatch(
        /^\/dev\/vda1 \/boot\/efi vfat /m,
      );
      // The root device's 6GiB: the disk grew, and at boot the root partition and ext4 with it.
      const df = await run(['df', '-B1', '--output=size', '/']);
      expect(Number(df.stdout.trim().split('\n').pop())).toBeGreaterThan(5 * 1024 ** 3);

      const addr = await waitFor(
        'a DHCP address in the guest',
        () => run(['ip', '-4', '-o', 'addr', 'show', 'scope', 'global']),
        (r) => /^\d+: (en|eth)\S* +inet \d+\.\d+\.\d+\.\d+\/\d+ .*dynamic/m.test(r.stdout),
        BOOT_WAIT_MS,
      );
      const address = /inet (\d+\.\d+\.\d+\.\d+)\//.exec(addr.stdout)?.[1];
      // The engine reports it too, under the guest's name for the NIC (as LXD does for a VM).
      const nic = /^\d+: (\S+) /m.exec(addr.stdout)?.[1] ?? '';
      const s = await waitFor(
        'the address in the instance state',
        () => engine().instances.state(project, vm),
        (st) => (st.network?.[nic]?.addresses ?? []).some((a) => a.address === address),
        60_000,
      );
      expect(s.network?.[nic]?.host_name).toMatch(/\S/);
    },
    30 * 60_000,
  );

  it(
    'keeps a pushed file and a UEFI variable across a clean reboot',
    async () => {
      await engine().instances.filePush(project, vm, '/root/kept.txt', {
        content: Buffer.from('written before the reboot\n'),
        mode: 0o600,
      });
      // Attributes (non-volatile, boot and runtime access), then the value: the firmware keeps it in qemu.nvram.
      const set = await run([
        'sh',
        '-c',
        `printf '\\007\\000\\000\\000kept-in-nvram' > ${EFI_VAR}`,
      ]);
      expect(set.exitCode).toBe(0);
      const nvram = statSync(await nvramOf(vm));
      const pid = qemuPid(dataDir, project, vm);
      // Stop through the agent's guest-shutdown: systemd unmounts / cleanly and powers off.
      await engine().instances.changeStateAndWait(project, vm, { action: 'stop', timeout: 300 });
      expect((await engine().instances.get(project, vm)).status).toBe('Stopped');
      expect(qemuPid(dataDir, project, vm)).toBe(0);
      const log = await engine().instances.consoleLog(project, vm);
      expect(log).toMatch(/reboot: Power down/);
      expect(pid).toBeGreaterThan(0);

      await engine().instances.changeStateAndWait(project, vm, { action: 'start' });
      await agentAnswers();
      const cat = await run(['cat', '/root/kept.txt']);
      expect(cat.stdout).toBe('written before the reboot\n');
      // The same variable store, not a fresh one from the template.
      expect(statSync(await nvramOf(vm)).ino).toBe(nvram.ino);
      expect((await run(['cat', EFI_VAR])).stdout).toContain('kept-in-nvram');
    },
    30 * 60_000,
  );

  it(
    'runs an interactive shell through the pty helper',
    async () => {
      const shell = await engine().instances.execInteractive(
        project,
        vm,
        { command: ['sh'] },
        { cols: 80, rows: 24 },
      );
      let screen = '';
      shell.stdout.on('data', (chunk: Buffer) => (screen += chunk.toString()));
      shell.stdin.write('echo $((6*7))\n');
      // The echo of what was typed says 6*7; only the answer is 42 at the start of a line (after
      // the prompt, when the line was typed before the shell printed it).
      await waitFor(
        'the answer in the terminal',
        async () => screen,
        (text) => /^(?:# )?42\r?$/m.test(text),
        120_000,
      );
      shell.stdin.write('exit 3\n');
      expect(await shell.wait()).toBe(3);
    },
    10 * 60_000,
  );

  it(
    'copies the UEFI variables with the VM, and boots with security.secureboot=false',
    async () => {
      await engine().instances.changeStateAndWait(project, vm, { action: 'stop', force: true });
      expect(qemuPid(dataDir, project, vm)).toBe(0);
      const created = await engine().instances.create(project, {
        name: copied,
        source: { type: 'copy', source: vm },
      });
      await succeeded(engine(), Promise.resolve(created.operation));
      expect(readFileSync(await nvramOf(copied))).toEqual(readFileSync(await nvramOf(vm)));
      await engine().instances.delete(project, vm);

      // Off: the variables are remade from OVMF's template without keys, and the firmware enforces nothing.
      await engine().instances.patch(project, copied, {
        config: { 'security.secureboot': 'false' },
      });
      const before = statSync(await nvramOf(copied));
      await engine().instances.changeStateAndWait(project, copied, { action: 'start' });
      expect(statSync(await nvramOf(copied)).ino).not.toBe(before.ino);
      await agentAnswers(copied).catch(async (error: Error) => {
        throw new Error(`${error.message}\nconsole:\n${await consoleTail(copied)}`);
      });
      expect((await run(['mokutil', '--sb-state'], copied)).stdout).toContain(
        'SecureBoot disabled',
      );
      expect((await run(['test', '-e', EFI_VAR], copied)).exitCode).not.toBe(0);
      await engine().instances.changeStateAndWait(project, copied, { action: 'stop', force: true });
      expect(qemuPid(dataDir, project, copied)).toBe(0);
      await engine().instances.delete(project, copied);
    },
    30 * 60_000,
  );

  it(
    'cancels a build while packages install, leaving no work folder and no mount',
    async () => {
      const other = `${alias}-cancelled`;
      const op = await engine().images.buildDebian(project, { alias: other, vm: true });
      await waitFor(
        'the second stage of debootstrap',
        () => engine().operations.get(op.id),
        (o) => o.status !== 'Running' || /Installing/.test(JSON.stringify(o.metadata ?? {})),
        20 * 60_000,
      );
      // A moment in: the second stage has mounted /proc and /sys in its tree.
      await new Promise((r) => setTimeout(r, 5_000));
      expect((await engine().operations.cancel(op.id)).status).toBe('Cancelled');
      const images = path.join(dataDir, 'images');
      expect(readdirSync(images).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
      // Those mounts were the build's own namespace's; none reached the host's.
      expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(dataDir);
      await expect(engine().images.resolveAlias(project, other)).rejects.toMatchObject({
        code: 'NOT_FOUND',
      });
    },
    30 * 60_000,
  );
});
