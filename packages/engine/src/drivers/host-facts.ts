// What drivers size limits against: this host's online CPUs and memory.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { parseCpuset } from '../config/index.ts';

export interface HostFacts {
  /** Online CPU count. */
  cpus: number;
  memoryBytes: number;
}

/** Read once per driver: CPUs online (not merely present) and total memory. */
export function hostFacts(): HostFacts {
  let cpus = os.cpus().length;
  try {
    cpus = parseCpuset(readFileSync('/sys/devices/system/cpu/online', 'utf8').trim()).length;
  } catch {
    // keep os.cpus()
  }
  return { cpus, memoryBytes: os.totalmem() };
}
