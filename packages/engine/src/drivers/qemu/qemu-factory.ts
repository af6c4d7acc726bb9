// The QEMU driver's factory: available when qemu-system-x86_64 runs here.
// The accelerator is decided by trying: KVM only when a boot-sector guest
// under KVM reaches its exit port quickly (on some hosts /dev/kvm exists but
// guests hang or crawl); TCG otherwise. The details say which one runs.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isEngineError } from '../../errors.ts';
import { runCommand } from '../../host/run-command.ts';
import type { DriverEnvironment, DriverFactory, DriverSupport } from '../driver.ts';
import type { Accelerator } from './qemu-args.ts';
import { QEMU_BINARY, QemuDriver } from './qemu-driver.ts';

/** A TCG boot sector probe takes ~0.1 s; a healthy KVM is as quick. */
const KVM_PROBE_MS = 2_000;
const PROBE_EXIT = 99; // isa-debug-exit: (0x31 << 1) | 1

/** A boot sector that writes 0x31 to the isa-debug-exit port (QEMU exits 99), then halts. */
export function probeBootSector(): Buffer {
  const sector = Buffer.alloc(512);
  Buffer.from([0xb0, 0x31, 0xe6, 0xf4, 0xf4, 0xeb, 0xfd]).copy(sector); // mov al,0x31; out 0xf4,al; hlt; jmp $-1
  sector[510] = 0x55;
  sector[511] = 0xaa;
  return sector;
}

/** Boots the probe sector; true when it reached the exit port within `timeoutMs`. */
async function bootProbe(accel: Accelerator, disk: string, timeoutMs: number): Promise<boolean> {
  try {
    const result = await runCommand(
      QEMU_BINARY,
      [
        ...['-machine', `pc,accel=${accel}`, '-nodefaults', '-no-user-config', '-display', 'none'],
        // The CPU model real VMs get (qemu-args.ts): on some hosts `-cpu host` is what fails.
        ...(accel === 'kvm' ? ['-cpu', 'host'] : []),
        ...['-no-reboot', '-m', '32', '-device', 'isa-debug-exit,iobase=0xf4,iosize=1'],
        ...['-drive', `file=${disk},format=raw,if=ide`],
      ],
      { timeoutMs, allowFailure: true },
    );
    return result.exitCode === PROBE_EXIT;
  } catch (error) {
    if (isEngineError(error, 'DRIVER_UNAVAILABLE')) throw error;
    return false; // timed out
  }
}

export async function probeQemu(): Promise<DriverSupport> {
  if (process.getuid?.() !== 0) {
    return { available: false, reason: 'the engine must run as root to manage virtual machines' };
  }
  let version: string;
  try {
    const out = await runCommand(QEMU_BINARY, ['--version'], { timeoutMs: 10_000 });
    version = /version (\S+)/.exec(out.stdout)?.[1] ?? out.stdout.split('\n')[0] ?? '';
  } catch (error) {
    if (isEngineError(error, 'DRIVER_UNAVAILABLE')) {
      return {
        available: false,
        reason: `${QEMU_BINARY} not found: apt-get install qemu-system-x86`,
      };
    }
    throw error;
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-qemu-probe-'));
  try {
    const disk = path.join(dir, 'probe.img');
    writeFileSync(disk, probeBootSector());
    if (!(await bootProbe('tcg', disk, 10_000))) {
      return {
        available: false,
        reason: `${QEMU_BINARY} ${version} could not boot a probe guest under TCG`,
      };
    }
    if (!existsSync('/dev/kvm'))
      return { available: true, details: { version, accel: 'tcg', kvm: 'no /dev/kvm' } };
    if (await bootProbe('kvm', disk, KVM_PROBE_MS))
      return { available: true, details: { version, accel: 'kvm' } };
    return {
      available: true,
      details: {
        version,
        accel: 'tcg',
        kvm: `a KVM probe guest (-cpu host) did not finish within ${KVM_PROBE_MS} ms; using TCG`,
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// What the host's QEMU can do does not change while this process runs: the
// probe boots its guests once per process, not at every engine start.
let support: Promise<DriverSupport> | undefined;
let probed: Accelerator = 'tcg';

export const qemuDriverFactory: DriverFactory = {
  name: 'qemu',
  probe: async (_env: DriverEnvironment) => {
    support ??= probeQemu();
    const found = await support;
    probed = found.details?.accel === 'kvm' ? 'kvm' : 'tcg';
    return found;
  },
  create: (env: DriverEnvironment) => new QemuDriver(env, probed),
};
