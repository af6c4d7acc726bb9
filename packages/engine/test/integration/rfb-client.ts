// Just enough of an RFB (VNC) client to look at a screen in tests: the 3.8
// handshake with no authentication (QEMU's unix-socket server asks none),
// raw encoding only, and one full framebuffer update.
import type { GraphicalConsoleStream } from '../../src/drivers/driver.ts';

export interface Screen {
  width: number;
  height: number;
  /** The desktop name QEMU gives (its `-name`, or "QEMU"). */
  name: string;
  /** How many different pixel values the update held. */
  colours: number;
}

/** Reads exact byte counts from a stream, in order. */
function reader(stream: NodeJS.ReadableStream) {
  let buffered = Buffer.alloc(0);
  let waiting: { bytes: number; resolve(): void; reject(error: Error): void } | null = null;
  let ended = false;
  const wake = () => {
    if (waiting && buffered.length >= waiting.bytes) {
      const w = waiting;
      waiting = null;
      w.resolve();
    } else if (waiting && ended) {
      const w = waiting;
      waiting = null;
      w.reject(new Error(`the stream ended with ${buffered.length}/${w.bytes} bytes`));
    }
  };
  stream.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    wake();
  });
  stream.on('end', () => {
    ended = true;
    wake();
  });
  return async (bytes: number): Promise<Buffer> => {
    if (buffered.length < bytes) {
      await new Promise<void>((resolve, reject) => {
        waiting = { bytes, resolve, reject };
        wake();
      });
    }
    const out = buffered.subarray(0, bytes);
    buffered = buffered.subarray(bytes);
    return out;
  };
}

/** Shakes hands on `stream` and reads the whole screen once. */
export async function readScreen(stream: GraphicalConsoleStream): Promise<Screen> {
  const read = reader(stream.output);
  const version = (await read(12)).toString('latin1');
  if (!/^RFB \d{3}\.\d{3}\n$/.test(version)) throw new Error(`not RFB: ${JSON.stringify(version)}`);
  stream.input.write('RFB 003.008\n');
  const types = [...(await read((await read(1))[0]!))];
  if (!types.includes(1)) throw new Error(`no "None" security type among ${types.join(',')}`);
  stream.input.write(Buffer.from([1]));
  if ((await read(4)).readUInt32BE(0) !== 0) throw new Error('security handshake failed');
  stream.input.write(Buffer.from([1])); // ClientInit: shared
  const init = await read(24);
  const width = init.readUInt16BE(0);
  const height = init.readUInt16BE(2);
  const bytesPerPixel = init[4]! / 8;
  const name = (await read(init.readUInt32BE(20))).toString('utf8');
  // SetEncodings: raw only. FramebufferUpdateRequest: all of it, not incremental.
  const encodings = Buffer.alloc(8);
  encodings.writeUInt8(2, 0);
  encodings.writeUInt16BE(1, 2);
  encodings.writeInt32BE(0, 4);
  const request = Buffer.alloc(10);
  request.writeUInt8(3, 0);
  request.writeUInt16BE(width, 6);
  request.writeUInt16BE(height, 8);
  stream.input.write(Buffer.concat([encodings, request]));
  const colours = new Set<string>();
  for (;;) {
    const type = (await read(1))[0];
    if (type === 0) break;
    // Bell (2) has no body; anything else before the update is unexpected here.
    if (type !== 2) throw new Error(`unexpected server message ${type}`);
  }
  const rects = (await read(3)).readUInt16BE(1);
  for (let i = 0; i < rects; i++) {
    const header = await read(12);
    const w = header.readUInt16BE(4);
    const h = header.readUInt16BE(6);
    const encoding = header.readInt32BE(8);
    if (encoding !== 0) throw new Error(`unexpected encoding ${encoding}`);
    const pixels = await read(w * h * bytesPerPixel);
    for (let p = 0; p < pixels.length; p += bytesPerPixel)
      colours.add(pixels.subarray(p, p + bytesPerPixel).toString('hex'));
  }
  return { width, height, name, colours: colours.size };
}
