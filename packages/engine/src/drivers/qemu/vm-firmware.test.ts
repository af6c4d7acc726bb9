import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  NVRAM_FILE,
  NVRAM_SOURCE_FILE,
  checkSecureBootRequirement,
  ovmfFiles,
  prepareFirmware,
  secureBootEnabled,
} from './vm-firmware.ts';

const work = mkdtempSync(path.join(os.tmpdir(), 'berth-vm-firmware-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A fake OVMF directory with distinguishable templates. */
function ovmfDir(files: string[]): string {
  const dir = mkdtempSync(path.join(work, 'ovmf-'));
  for (const f of files) writeFileSync(path.join(dir, f), f);
  return dir;
}

const ALL = ['OVMF_CODE_4M.fd', 'OVMF_VARS_4M.fd', 'OVMF_CODE_4M.secboot.fd', 'OVMF_VARS_4M.ms.fd'];

describe('security.secureboot', () => {
  it('is on unless set false, as LXD', () => {
    expect(secureBootEnabled({})).toBe(true);
    expect(secureBootEnabled({ 'security.secureboot': '' })).toBe(true);
    expect(secureBootEnabled({ 'security.secureboot': 'true' })).toBe(true);
    expect(secureBootEnabled({ 'security.secureboot': 'false' })).toBe(false);
  });
  it('selects the secboot code with Microsoft’s keys, or the plain code and empty variables', () => {
    expect(ovmfFiles(true, '/o')).toEqual({
      code: '/o/OVMF_CODE_4M.secboot.fd',
      vars: '/o/OVMF_VARS_4M.ms.fd',
    });
    expect(ovmfFiles(false, '/o')).toEqual({
      code: '/o/OVMF_CODE_4M.fd',
      vars: '/o/OVMF_VARS_4M.fd',
    });
  });
  it('refuses Secure Boot for an image that says it cannot boot with it (LXD’s message)', () => {
    const config = { 'image.requirements.secureboot': 'false' };
    expect(() => checkSecureBootRequirement(config)).toThrow(
      /incompatible with secureboot\. Please set security\.secureboot=false/,
    );
    expect(() =>
      checkSecureBootRequirement({ ...config, 'security.secureboot': 'false' }),
    ).not.toThrow();
    expect(() => checkSecureBootRequirement({})).not.toThrow();
  });
});

describe('prepareFirmware', () => {
  it('copies the variables template into the volume at first start, then keeps the copy', () => {
    const dir = ovmfDir(ALL);
    const volume = mkdtempSync(path.join(work, 'vol-'));
    const fw = prepareFirmware(volume, {}, dir);
    expect(fw).toEqual({
      code: path.join(dir, 'OVMF_CODE_4M.secboot.fd'),
      nvram: path.join(volume, NVRAM_FILE),
      secureBoot: true,
    });
    expect(readFileSync(fw.nvram, 'utf8')).toBe('OVMF_VARS_4M.ms.fd');
    expect(statSync(fw.nvram).mode & 0o777).toBe(0o600);
    // What the guest wrote stays from start to start (the flash keeps its size).
    const entries = 'boot entries'.padEnd('OVMF_VARS_4M.ms.fd'.length, '.');
    writeFileSync(fw.nvram, entries);
    prepareFirmware(volume, {}, dir);
    expect(readFileSync(fw.nvram, 'utf8')).toBe(entries);
    // The key now selects the other template: the next start makes the store again from it.
    const off = prepareFirmware(volume, { 'security.secureboot': 'false' }, dir);
    expect(off.code).toBe(path.join(dir, 'OVMF_CODE_4M.fd'));
    expect(readFileSync(off.nvram, 'utf8')).toBe('OVMF_VARS_4M.fd');
    const more = 'more entries'.padEnd('OVMF_VARS_4M.fd'.length, '.');
    writeFileSync(off.nvram, more);
    prepareFirmware(volume, { 'security.secureboot': 'false' }, dir);
    expect(readFileSync(off.nvram, 'utf8')).toBe(more);
  });
  it('keeps a store of unknown origin (one brought in without its source record)', () => {
    const dir = ovmfDir(ALL);
    const volume = mkdtempSync(path.join(work, 'vol-'));
    const imported = 'imported'.padEnd('OVMF_VARS_4M.fd'.length, '.');
    writeFileSync(path.join(volume, NVRAM_FILE), imported);
    prepareFirmware(volume, { 'security.secureboot': 'false' }, dir);
    expect(readFileSync(path.join(volume, NVRAM_FILE), 'utf8')).toBe(imported);
    expect(readFileSync(path.join(volume, NVRAM_SOURCE_FILE), 'utf8')).toBe(
      `${path.join(dir, 'OVMF_VARS_4M.fd')}\n`,
    );
  });
  it('remakes a store that does not fit this firmware (another OVMF build’s size)', () => {
    const dir = ovmfDir(ALL);
    const volume = mkdtempSync(path.join(work, 'vol-'));
    writeFileSync(path.join(volume, NVRAM_FILE), 'a 2 MiB build’s variables');
    prepareFirmware(volume, {}, dir);
    expect(readFileSync(path.join(volume, NVRAM_FILE), 'utf8')).toBe('OVMF_VARS_4M.ms.fd');
  });
  it('says OVMF is missing, naming the package, as DRIVER_UNAVAILABLE', () => {
    const volume = mkdtempSync(path.join(work, 'vol-'));
    const dir = path.join(work, 'no-ovmf');
    mkdirSync(dir);
    let error: unknown;
    try {
      prepareFirmware(volume, {}, dir);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'DRIVER_UNAVAILABLE' });
    expect((error as Error).message).toMatch(/OVMF_CODE_4M\.secboot\.fd not found.*"ovmf" package/);
    // Only the secure-boot pair missing: off still starts.
    const partial = ovmfDir(['OVMF_CODE_4M.fd', 'OVMF_VARS_4M.fd']);
    expect(() => prepareFirmware(volume, {}, partial)).toThrow(/OVMF_CODE_4M\.secboot\.fd/);
    expect(prepareFirmware(volume, { 'security.secureboot': 'false' }, partial).secureBoot).toBe(
      false,
    );
  });
});
