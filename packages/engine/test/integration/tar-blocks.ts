// Tar blocks written by hand, for tests that need archives no tar tool
// would make (links out of the tree, devices where files belong, sizes
// that lie): a ustar header, and a file entry with its padded content.

/** ustar type flags: file, hard link, symlink, char device, block device, directory, FIFO. */
export type TypeFlag = '0' | '1' | '2' | '3' | '4' | '5' | '6';

/** A ustar header; a size past ustar's 8 GiB in GNU's base-256 form, as GNU tar writes it. */
export function header(
  name: string,
  type: TypeFlag,
  options: { size?: number | bigint; linkname?: string; mode?: number } = {},
): Buffer {
  const b = Buffer.alloc(512);
  const put = (off: number, len: number, value: string) =>
    b.write(value.slice(0, len), off, 'latin1');
  const octal = (off: number, len: number, n: number) =>
    put(off, len, `${n.toString(8).padStart(len - 1, '0')}\0`);
  put(0, 100, name);
  octal(100, 8, options.mode ?? (type === '5' ? 0o755 : 0o644));
  octal(108, 8, 0);
  octal(116, 8, 0);
  const size = BigInt(options.size ?? 0);
  if (size < 8n * 1024n ** 3n) octal(124, 12, Number(size));
  else {
    b[124] = 0x80;
    let rest = size;
    for (let i = 135; i > 124; i--) {
      b[i] = Number(rest & 0xffn);
      rest >>= 8n;
    }
  }
  octal(136, 12, Math.floor(Date.now() / 1000));
  b.fill(' ', 148, 156);
  put(156, 1, type);
  put(157, 100, options.linkname ?? '');
  put(257, 6, 'ustar\0');
  put(263, 2, '00');
  let sum = 0;
  for (const byte of b) sum += byte;
  put(148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return b;
}

/** A regular file entry: its header and its content padded to whole blocks. */
export function fileEntry(name: string, content: string | Buffer, mode?: number): Buffer {
  const data = Buffer.isBuffer(content) ? content : Buffer.from(content);
  const padded = Buffer.alloc(Math.ceil(data.length / 512) * 512);
  data.copy(padded);
  return Buffer.concat([
    header(name, '0', { size: data.length, ...(mode === undefined ? {} : { mode }) }),
    padded,
  ]);
}
