// Subject 2: the real LXD, found running (bench/setup-lxd.sh starts it) and
// left running; driven through daemon-subject.ts like Berth's server.
import { existsSync } from 'node:fs';
import type { BenchImage } from './bench-image.ts';
import type { BenchVmImage } from './bench-vm-image.ts';
import { DaemonSubject, type Daemon } from './daemon-subject.ts';
import { DaemonVmSubject } from './daemon-vm-subject.ts';
import { DEFAULT_LXD_DIR, LxdClient } from './lxd-client.ts';
import { NotAvailable } from './subject.ts';

/** The LXD daemon at `dir`, which the bench neither starts nor stops. */
export function runningLxd(dir = DEFAULT_LXD_DIR): Daemon {
  return {
    description: `LXD's own daemon (LXD_DIR=${dir})`,
    async start() {
      const socket = `${dir}/unix.socket`;
      if (!existsSync(socket))
        throw new NotAvailable(
          `no LXD socket at ${socket} (install and start it: bench/setup-lxd.sh)`,
        );
      const client = new LxdClient(socket);
      try {
        await client.request('GET', '/1.0');
      } catch (error) {
        throw new NotAvailable(
          `LXD does not answer on ${socket}: ${(error as Error).message} (start it: bench/setup-lxd.sh)`,
        );
      } finally {
        client.close();
      }
      return dir;
    },
    stop: () => Promise.resolve([]),
  };
}

export function lxdSubject(options: { project: string; image: BenchImage }): DaemonSubject {
  return new DaemonSubject({ id: 'lxd', label: 'LXD', daemon: runningLxd(), ...options });
}

/** LXD for the virtual-machine section: one trial launch first says whether its VMs run here at all. */
export function lxdVmSubject(options: {
  project: string;
  image: BenchVmImage;
  trialName: string;
}): DaemonVmSubject {
  return new DaemonVmSubject({ id: 'lxd', label: 'LXD', daemon: runningLxd(), ...options });
}
