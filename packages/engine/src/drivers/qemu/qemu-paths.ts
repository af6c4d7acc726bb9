// Host paths of one engine's VMs. Pure: derived from the data directory and
// the instance's project and name. Unix socket paths are limited to 107
// bytes, so the runtime dir is short: `<dataDir>/qemu/<project>_<name>`.
import path from 'node:path';
import { EngineError } from '../../errors.ts';

const SUN_PATH_MAX = 107;

export interface VmPaths {
  /** `<project>_<name>`, as LXD names its QEMU processes. */
  name: string;
  runDir: string;
  qmpSocket: string;
  consoleSocket: string;
  /** The guest agent's virtio-serial chardev. */
  qgaSocket: string;
  /** The VGA screen's VNC server (the graphical console, vm-vnc.ts). */
  vncSocket: string;
  pidFile: string;
  /** The tap devices the VM's last start made (vm-nics.ts). */
  tapsFile: string;
  /** `<dataDir>/logs/<project>_<name>`: console.log and qemu.log. */
  logDir: string;
  consoleLog: string;
  qemuLog: string;
}

export function qemuRoot(dataDir: string): string {
  return path.join(path.resolve(dataDir), 'qemu');
}

export function vmPaths(dataDir: string, project: string, instance: string): VmPaths {
  const name = `${project}_${instance}`;
  const runDir = path.join(qemuRoot(dataDir), name);
  const logDir = path.join(path.resolve(dataDir), 'logs', name);
  const paths: VmPaths = {
    name,
    runDir,
    qmpSocket: path.join(runDir, 'qmp.sock'),
    consoleSocket: path.join(runDir, 'console.sock'),
    qgaSocket: path.join(runDir, 'qga.sock'),
    vncSocket: path.join(runDir, 'vnc.sock'),
    pidFile: path.join(runDir, 'qemu.pid'),
    tapsFile: path.join(runDir, 'taps'),
    logDir,
    consoleLog: path.join(logDir, 'console.log'),
    qemuLog: path.join(logDir, 'qemu.log'),
  };
  for (const socket of [paths.qmpSocket, paths.consoleSocket, paths.qgaSocket, paths.vncSocket]) {
    if (Buffer.byteLength(socket) > SUN_PATH_MAX) {
      throw EngineError.invalid(
        'name',
        `the VM's socket path is too long for a unix socket (${socket}); use a shorter data directory or name`,
      );
    }
  }
  return paths;
}

/**
 * Where a VM's boot files live in its volume (a direct-kernel-boot image
 * unpacked there); without `vmlinuz` the VM boots from its root disk
 * through UEFI (vm-firmware.ts, whose qemu.nvram sits in the volume too).
 */
export function bootFiles(rootfs: string): { kernel: string; initrd: string; cmdline: string } {
  const boot = path.join(rootfs, 'boot');
  return {
    kernel: path.join(boot, 'vmlinuz'),
    initrd: path.join(boot, 'initrd.img'),
    cmdline: path.join(boot, 'cmdline'),
  };
}
