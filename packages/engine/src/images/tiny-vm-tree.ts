// The tiny VM's file tree as data (tiny-vm-files.ts describes it once) and
// the two ways it is written out: a newc cpio archive, which the kernel
// unpacks as the initramfs, and a directory, which `mke2fs -d` copies into
// the root disk's filesystem.
import { chmod, mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { EngineError } from '../errors.ts';

/** One entry of the guest's tree, by its path relative to `/`. */
export interface TreeEntry {
  path: string;
  type: 'file' | 'directory' | 'symlink' | 'char';
  mode: number;
  data?: Buffer;
  target?: string;
  /** For `char`. */
  major?: number;
  minor?: number;
}

const TYPE_BITS = { file: 0o100000, directory: 0o040000, symlink: 0o120000, char: 0o020000 };

function pad4(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4);
}

/** Writes a newc ("070701") cpio archive, ending with the TRAILER!!! entry. */
export function writeCpioNewc(entries: readonly TreeEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  const push = (entry: TreeEntry) => {
    const body =
      entry.type === 'symlink'
        ? Buffer.from(entry.target ?? '')
        : entry.type === 'file'
          ? (entry.data ?? Buffer.alloc(0))
          : Buffer.alloc(0);
    const name = Buffer.from(`${entry.path}\0`);
    const hex = (n: number) => n.toString(16).padStart(8, '0');
    const header =
      '070701' +
      [
        ino++,
        TYPE_BITS[entry.type] | (entry.mode & 0o7777),
        0, // uid
        0, // gid
        entry.type === 'directory' ? 2 : 1,
        0, // mtime: reproducible
        body.length,
        0,
        0,
        entry.major ?? 0,
        entry.minor ?? 0,
        name.length,
        0,
      ]
        .map(hex)
        .join('');
    parts.push(
      Buffer.from(header, 'ascii'),
      name,
      pad4(110 + name.length),
      body,
      pad4(body.length),
    );
  };
  for (const entry of entries) push(entry);
  push({ path: 'TRAILER!!!', type: 'file', mode: 0 });
  return Buffer.concat(parts);
}

/**
 * Writes the entries under `root` (an empty directory), modes exact (not
 * masked by the umask). Files are owned by whoever builds, and `mke2fs -d`
 * keeps that owner: the engine builds as root. A device node is refused: the
 * root disk needs none (the initramfs hands its devtmpfs over), and making
 * one would take CAP_MKNOD.
 */
export async function writeTree(entries: readonly TreeEntry[], root: string): Promise<void> {
  const seen = new Set<string>();
  for (const entry of entries) {
    const parts = entry.path.split('/');
    if (entry.path === '' || path.isAbsolute(entry.path) || parts.includes('..')) {
      throw new EngineError('INTERNAL', `tree entry "${entry.path}" is not a relative path`);
    }
    // A later duplicate would silently replace an earlier entry in the cpio; here it is a bug.
    if (seen.has(entry.path)) throw new EngineError('INTERNAL', `tree entry "${entry.path}" twice`);
    seen.add(entry.path);
    const file = path.join(root, entry.path);
    await mkdir(path.dirname(file), { recursive: true });
    switch (entry.type) {
      case 'directory':
        await mkdir(file, { recursive: true });
        await chmod(file, entry.mode & 0o7777);
        break;
      case 'file':
        await writeFile(file, entry.data ?? Buffer.alloc(0));
        await chmod(file, entry.mode & 0o7777);
        break;
      case 'symlink':
        await symlink(entry.target ?? '', file);
        break;
      case 'char':
        throw new EngineError('INTERNAL', `tree entry "${entry.path}": no device nodes on disk`);
    }
  }
}
