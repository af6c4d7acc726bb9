import { describe, expect, it } from 'vitest';
import { probeBootSector } from './qemu-factory.ts';

describe('probeBootSector', () => {
  it('is one bootable sector that writes to the debug exit port', () => {
    const sector = probeBootSector();
    expect(sector.length).toBe(512);
    expect([sector[510], sector[511]]).toEqual([0x55, 0xaa]);
    expect([...sector.subarray(0, 4)]).toEqual([0xb0, 0x31, 0xe6, 0xf4]);
  });
});
