// A VM's graphical console: a connection to the VNC server QEMU runs on its
// VGA screen (`-vnc unix:<runDir>/vnc.sock`, qemu-args.ts). The bytes are the
// RFB protocol itself, passed through untouched: the client (noVNC in the
// web console) speaks it. Unlike the serial console, VNC takes several
// clients at once (each sees the same screen), so there is no BUSY here.
import net from 'node:net';
import { PassThrough, Writable } from 'node:stream';
import { EngineError } from '../../errors.ts';
import type { GraphicalConsoleStream } from '../driver.ts';
import type { VmPaths } from './qemu-paths.ts';

export async function attachVnc(
  paths: VmPaths,
  instanceName: string,
): Promise<GraphicalConsoleStream> {
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.createConnection(paths.vncSocket);
    s.once('connect', () => resolve(s));
    s.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'ENOENT'
          ? // A VM started before its QEMU got a VNC server keeps running without one.
            new EngineError(
              'CONFLICT',
              `The VM ${instanceName} was started without a graphical console; restart it to get one`,
            )
          : new EngineError('INTERNAL', `Graphical console of ${instanceName}: ${error.message}`),
      ),
    );
  });
  const output = new PassThrough();
  socket.pipe(output);
  // However it goes (QEMU exits, a reset, our close), the stream ends; the error itself says nothing more.
  socket.on('error', () => {});
  socket.on('close', () => {
    if (!output.writableEnded) output.end();
  });
  const input = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      if (!socket.destroyed) socket.write(chunk);
      callback();
    },
  });
  return {
    output,
    input,
    close: () => socket.destroy(),
  };
}
