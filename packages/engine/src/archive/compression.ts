// Which compression an archive uses, from its first bytes. node-tar reads
// plain and gzip archives itself; xz/bzip2/zstd image tarballs are
// decompressed by the host tool first.
export type Compression = 'none' | 'gzip' | 'xz' | 'bzip2' | 'zstd';

/** From the first bytes of the file; null when it is no archive we know. */
export function detectCompression(head: Buffer): Compression | null {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (
    head.length >= 6 &&
    head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))
  )
    return 'xz';
  if (head.length >= 3 && head.subarray(0, 3).toString('latin1') === 'BZh') return 'bzip2';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  if (head.length >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar') return 'none';
  return null;
}
