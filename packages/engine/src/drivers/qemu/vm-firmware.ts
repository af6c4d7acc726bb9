// UEFI firmware for VMs that boot from their disk, as LXD 5.0.2 does
// (driver_qemu.go: setupNvram, qemuDriveFirmware): OVMF's code as a
// read-only pflash drive and a per-instance copy of its variable store,
// `qemu.nvram` in the instance's volume, as the writable one. The copy is
// made at first start from the template `security.secureboot` selects
// (default true: Microsoft's keys enrolled, Secure Boot on) and then kept,
// so boot entries the guest writes survive restarts, copies and snapshots
// (they copy the volume folder). Which template it came from is kept
// beside it (`qemu.nvram.source`): when the key selects another one, the
// next start makes the store again, as LXD's volatile.apply_nvram does,
// whether the key changed on the instance, in a profile, running or not. A
// store whose size does not match this host's template (made by another OVMF
// build, brought by an import) is remade too. A VM whose image brings `boot/` boots its
// kernel directly and has no firmware of this kind (qemu-driver.ts).
//
// Debian's OVMF, not LXD's snap build: its Secure Boot code is built with
// SMM required (the variable store is only writable from SMM, so the guest
// OS cannot rewrite the keys), hence `smm=on` and the secure pflash below.
// LXD's 5.0.2 snap ships one OVMF_CODE.fd for both; Debian splits them, and
// the plain code with the ms variables would not enforce anything.
import {
  chmodSync,
  copyFileSync,
  existsSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { isFalseOrEmpty, isTrue } from '../../config/index.ts';
import { EngineError } from '../../errors.ts';
import type { ConfigMap } from '../../schemas/index.ts';

/** Where Debian's `ovmf` package puts its firmware (LXD reads LXD_OVMF_PATH; the engine takes it as a parameter). */
export const OVMF_DIR = '/usr/share/OVMF';
/** The per-instance variable store, in the instance's volume (LXD's name). */
export const NVRAM_FILE = 'qemu.nvram';
/** The template the store was made from. */
export const NVRAM_SOURCE_FILE = 'qemu.nvram.source';

export interface VmFirmware {
  /** The firmware code, read-only (pflash unit 0). */
  code: string;
  /** The instance's variable store, writable (pflash unit 1). */
  nvram: string;
  secureBoot: boolean;
}

/** `security.secureboot`, true unless set false (LXD's IsTrueOrEmpty). */
export function secureBootEnabled(config: ConfigMap): boolean {
  const value = config['security.secureboot'];
  return value === undefined || value === '' || isTrue(value);
}

/** The OVMF code and variable template for a VM (4 MiB builds, Debian 12's default). */
export function ovmfFiles(secureBoot: boolean, dir = OVMF_DIR): { code: string; vars: string } {
  return secureBoot
    ? {
        code: path.join(dir, 'OVMF_CODE_4M.secboot.fd'),
        vars: path.join(dir, 'OVMF_VARS_4M.ms.fd'),
      }
    : { code: path.join(dir, 'OVMF_CODE_4M.fd'), vars: path.join(dir, 'OVMF_VARS_4M.fd') };
}

/**
 * LXD refuses to start an image that says it cannot boot with Secure Boot
 * (`requirements.secureboot: false` in its properties, `image.requirements.secureboot`
 * on the instance) while the key is on.
 */
export function checkSecureBootRequirement(config: ConfigMap): void {
  const required = config['image.requirements.secureboot'];
  if (
    required !== undefined &&
    required !== '' &&
    isFalseOrEmpty(required) &&
    secureBootEnabled(config)
  ) {
    throw EngineError.invalid(
      'config["security.secureboot"]',
      'The image used by this instance is incompatible with secureboot. Please set security.secureboot=false on the instance',
    );
  }
}

/**
 * The firmware a UEFI VM starts with: checks OVMF is installed (naming the
 * package when not) and makes the instance's `qemu.nvram` from the template
 * when it has none.
 */
export function prepareFirmware(volumeDir: string, config: ConfigMap, dir = OVMF_DIR): VmFirmware {
  checkSecureBootRequirement(config);
  const secureBoot = secureBootEnabled(config);
  const { code, vars } = ovmfFiles(secureBoot, dir);
  for (const file of [code, vars]) {
    if (!existsSync(file)) {
      throw new EngineError(
        'DRIVER_UNAVAILABLE',
        `UEFI firmware missing: ${file} not found. This VM boots through UEFI (its image has no boot/ kernel); install the "ovmf" package (apt-get install ovmf)`,
      );
    }
  }
  const nvram = path.join(volumeDir, NVRAM_FILE);
  const source = path.join(volumeDir, NVRAM_SOURCE_FILE);
  let madeFrom: string | undefined;
  try {
    madeFrom = readFileSync(source, 'utf8').trim();
  } catch {
    // A store of unknown origin (none yet, or brought by an import) is the one it has.
  }
  // A store made for another OVMF build (an import from another host) does not fit this
  // firmware's flash: QEMU would refuse to start. It is remade, as a missing one is.
  const fits = existsSync(nvram) && statSync(nvram).size === statSync(vars).size;
  if (!fits || (madeFrom !== undefined && madeFrom !== vars)) {
    // Whole or not at all (QEMU needs the pflash file at its full size): a copy, then a rename.
    const partial = `${nvram}.tmp`;
    copyFileSync(vars, partial);
    chmodSync(partial, 0o600);
    renameSync(partial, nvram);
    madeFrom = undefined;
  }
  if (madeFrom === undefined) writeFileSync(source, `${vars}\n`, { mode: 0o600 });
  return { code, nvram, secureBoot };
}

/** The firmware's QEMU arguments (the machine's `smm=on` comes with Secure Boot: qemu-args.ts). */
export function firmwareArgs(firmware: VmFirmware): string[] {
  const quote = (value: string) => value.replaceAll(',', ',,');
  return [
    // Only SMM may write the variable store: the guest cannot replace the Secure Boot keys.
    ...(firmware.secureBoot ? ['-global', 'driver=cfi.pflash01,property=secure,value=on'] : []),
    '-drive',
    `if=pflash,format=raw,unit=0,readonly=on,file=${quote(firmware.code)}`,
    '-drive',
    `if=pflash,format=raw,unit=1,file=${quote(firmware.nvram)}`,
  ];
}
