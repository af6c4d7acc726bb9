// A VM's serial console: QEMU's console socket, one client at a time (a
// second one would wait unseen in the listen queue, so it is BUSY here).
import net from 'node:net';
import { PassThrough, Writable } from 'node:stream';
import { EngineError } from '../../errors.ts';
import type { ConsoleStream } from '../driver.ts';
import type { VmPaths } from './qemu-paths.ts';

export class SerialConsoles {
  /** VMs whose console is open, by `VmPaths.name`. */
  readonly #open = new Set<string>();

  async attach(paths: VmPaths, instanceName: string): Promise<ConsoleStream> {
    if (this.#open.has(paths.name)) {
      throw new EngineError('BUSY', `The console of ${instanceName} is already in use`);
    }
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.createConnection(paths.consoleSocket);
      s.once('connect', () => resolve(s));
      s.once('error', (error) =>
        reject(new EngineError('INTERNAL', `Console of ${instanceName}: ${error.message}`)),
      );
    });
    this.#open.add(paths.name);
    const output = new PassThrough();
    socket.pipe(output);
    socket.on('close', () => this.#open.delete(paths.name));
    socket.on('error', () => output.end());
    const input = new Writable({
      write(chunk: Buffer | string, _encoding, callback) {
        if (!socket.destroyed) socket.write(chunk);
        callback();
      },
    });
    return {
      output,
      input,
      // A serial line has no size; the guest's shell learns it with stty.
      resize() {},
      close: () => {
        socket.destroy();
        this.#open.delete(paths.name);
      },
    };
  }
}
