// A generator of hostile image and backup tarballs. From a valid archive of
// each layout (a container image, a VM image, a container backup, a VM
// backup) it makes one archive per attack, each a single change:
// * every top-level entry (and every entry a layout reads itself) replaced
//   by a symlink to a host directory, or by a hard link to a host file;
// * members named with `../`, an absolute path, or `x/../../` inside;
// * character and block devices and FIFOs where the engine or QEMU reads a
//   plain file;
// * setuid and setgid bits on the files the engine reads;
// * an oversized metadata.yaml or index.yaml;
// * a member declaring a petabyte (the decompression bomb's header), and a
//   zstd stream whose zeros never end (the bomb itself);
// * each compression truncated half-way, and a compression nobody knows.
// Every case is refused; what it must be refused for is the `refused`
// pattern, so a case refused for another reason (or accepted) fails.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { header, type TypeFlag } from './tar-blocks.ts';

export type TarType = 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'directory' | 'fifo';

export interface TarMember {
  name: string;
  type: TarType;
  content?: Buffer;
  linkname?: string;
  mode?: number;
  /** A size to declare instead of the content's (the content is then left out). */
  declaredSize?: bigint;
}

export interface HostileCase {
  /** `<layout>: <attack>`. */
  name: string;
  layout: LayoutName;
  bytes: () => Buffer;
  refused: RegExp;
}

export type LayoutName = 'container image' | 'VM image' | 'container backup' | 'VM backup';

const TYPE_FLAGS: Record<TarType, TypeFlag> = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  char: '3',
  block: '4',
  directory: '5',
  fifo: '6',
};

/** A plain tar of `members`, with its end-of-archive blocks. */
export function tar(members: readonly TarMember[]): Buffer {
  const parts: Buffer[] = [];
  for (const member of members) {
    const content = member.content ?? Buffer.alloc(0);
    const options = {
      ...(member.linkname === undefined ? {} : { linkname: member.linkname }),
      ...(member.mode === undefined ? {} : { mode: member.mode }),
    };
    if (member.declaredSize !== undefined) {
      parts.push(
        header(member.name, TYPE_FLAGS[member.type], { ...options, size: member.declaredSize }),
      );
      continue;
    }
    parts.push(header(member.name, TYPE_FLAGS[member.type], { ...options, size: content.length }));
    if (content.length > 0) {
      const padded = Buffer.alloc(Math.ceil(content.length / 512) * 512);
      content.copy(padded);
      parts.push(padded);
    }
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

const file = (name: string, content: string | Buffer, mode?: number): TarMember => ({
  name,
  type: 'file',
  content: Buffer.isBuffer(content) ? content : Buffer.from(content),
  ...(mode === undefined ? {} : { mode }),
});
const dir = (name: string): TarMember => ({ name, type: 'directory' });

/** A small qcow2 disk, as a VM image or backup carries one. */
function qcow2(): Buffer {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'berth-hostile-disk-'));
  try {
    const disk = path.join(dir, 'disk.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '16M']);
    return readFileSync(disk);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const METADATA = 'architecture: x86_64\ncreation_date: 1700000000\nproperties:\n  os: hostile\n';

/** A backup's index.yaml for `name` of `type` (what the import reads first). */
export function backupIndex(name: string, type: 'container' | 'virtual-machine'): string {
  return [
    `name: ${name}`,
    'backend: dir',
    'pool: default',
    'optimized: false',
    'optimized_header: false',
    `type: ${type}`,
    'config:',
    '  container:',
    `    name: ${name}`,
    '    architecture: x86_64',
    `    type: ${type}`,
    '    config: {}',
    '    devices: {}',
    '    profiles: [default]',
    '    ephemeral: false',
    '    stateful: false',
    '',
  ].join('\n');
}

/** The valid archive of each layout, member by member. */
export function validMembers(layout: LayoutName, name: string): TarMember[] {
  switch (layout) {
    case 'container image':
      return [
        file('metadata.yaml', METADATA),
        dir('rootfs/'),
        dir('rootfs/bin/'),
        file('rootfs/bin/hello', '#!/bin/sh\necho hello\n', 0o755),
        dir('templates/'),
        file('templates/hostname.tpl', '{{ container.name }}\n'),
      ];
    case 'VM image':
      return [
        file('metadata.yaml', METADATA),
        file('rootfs.img', qcow2()),
        dir('boot/'),
        file('boot/vmlinuz', 'kernel'),
      ];
    case 'container backup':
      return [
        dir('backup/'),
        file('backup/index.yaml', backupIndex(name, 'container')),
        dir('backup/container/'),
        file('backup/container/metadata.yaml', METADATA),
        dir('backup/container/rootfs/'),
        file('backup/container/rootfs/hello', 'hello\n'),
      ];
    case 'VM backup':
      return [
        dir('backup/'),
        file('backup/index.yaml', backupIndex(name, 'virtual-machine')),
        file('backup/virtual-machine.img', qcow2()),
        dir('backup/virtual-machine/'),
        file('backup/virtual-machine/backup.yaml', 'name: x\n'),
      ];
  }
}

/** The entries a layout reads itself (what a link or a device must never stand in for). */
function readEntries(layout: LayoutName): string[] {
  switch (layout) {
    case 'container image':
      return ['metadata.yaml', 'templates/hostname.tpl'];
    case 'VM image':
      return ['metadata.yaml', 'rootfs.img', 'boot/vmlinuz'];
    case 'container backup':
      return ['backup/index.yaml', 'backup/container/metadata.yaml'];
    case 'VM backup':
      return [
        'backup/index.yaml',
        'backup/virtual-machine.img',
        'backup/virtual-machine/backup.yaml',
      ];
  }
}

/** Top-level entries (and a backup's second level): what a symlink could redirect. */
function topEntries(members: readonly TarMember[]): string[] {
  const tops = new Set<string>();
  for (const m of members) {
    const parts = m.name.replace(/\/$/, '').split('/');
    tops.add(parts[0]!);
    if (parts[0] === 'backup' && parts.length > 1) tops.add(`backup/${parts[1]}`);
  }
  return [...tops];
}

const gz = (plain: Buffer): Buffer => gzipSync(plain);
const compress = (cmd: string, args: string[], plain: Buffer): Buffer =>
  execFileSync(cmd, args, { input: plain, maxBuffer: 1 << 28 });
const half = (bytes: Buffer): Buffer => bytes.subarray(0, Math.floor(bytes.length / 2));

/** Every hostile archive of `layout`; `victim` is a host path none may create or reach. */
export function hostileCases(layout: LayoutName, name: string, victim: string): HostileCase[] {
  const valid = validMembers(layout, name);
  const isImage = layout.endsWith('image');
  const label = isImage ? 'Image tarball' : 'Backup tarball';
  const cases: HostileCase[] = [];
  const add = (
    attack: string,
    members: () => TarMember[],
    refused: RegExp,
    wrap: (plain: Buffer) => Buffer = gz,
  ) =>
    cases.push({
      name: `${layout}: ${attack}`,
      layout,
      bytes: () => wrap(tar(members())),
      refused,
    });
  const entry = (path: string) => new RegExp(`${label} entry "${escape(path)}`);
  const without = (path: string) => valid.filter((m) => m.name.replace(/\/$/, '') !== path);
  const replaced = (path: string, by: TarMember) => {
    const at = valid.findIndex((m) => m.name.replace(/\/$/, '') === path);
    const out = [...valid];
    out.splice(at, 1, by);
    return out;
  };

  for (const top of topEntries(valid)) {
    // The link first, so the members under it would be written through it.
    add(
      `"${top}" as a symlink to /etc`,
      () => [{ name: top, type: 'symlink', linkname: '/etc' }, ...without(top)],
      entry(top),
    );
    add(
      `"${top}" as a hard link to /etc/passwd`,
      () => [{ name: top, type: 'hardlink', linkname: '/etc/passwd' }, ...without(top)],
      entry(top),
    );
  }
  for (const read of readEntries(layout)) {
    add(
      `"${read}" as a symlink to /etc/shadow`,
      () => replaced(read, { name: read, type: 'symlink', linkname: '/etc/shadow' }),
      entry(read),
    );
    add(
      `"${read}" as a hard link to /etc/shadow`,
      () => replaced(read, { name: read, type: 'hardlink', linkname: '/etc/shadow' }),
      entry(read),
    );
    for (const type of ['char', 'block', 'fifo'] as const)
      add(`"${read}" as a ${type} device`, () => replaced(read, { name: read, type }), entry(read));
    for (const mode of [0o4755, 0o2755])
      add(
        `"${read}" setuid/setgid (${mode.toString(8)})`,
        () => {
          const original = valid.find((m) => m.name === read)!;
          return replaced(read, { ...original, mode });
        },
        entry(read),
      );
  }
  const inside = isImage ? (layout === 'VM image' ? 'boot' : 'rootfs') : 'backup';
  add('a "../" member', () => [...valid, file('../berth-escape', 'x')], entry('../berth-escape'));
  add('an absolute member', () => [...valid, file(victim, 'x')], entry(victim));
  add(
    `"${inside}/../../" inside a member`,
    () => [...valid, file(`${inside}/../../berth-escape`, 'x')],
    entry(`${inside}/../../berth-escape`),
  );
  const metadata = isImage ? 'metadata.yaml' : 'backup/index.yaml';
  add(
    `an oversized ${metadata} (2 MiB)`,
    () =>
      replaced(
        metadata,
        file(
          metadata,
          `${valid.find((m) => m.name === metadata)!.content!.toString()}# ${'x'.repeat(2 * 1024 * 1024)}\n`,
        ),
      ),
    new RegExp(`${label} entry "${escape(metadata)}": larger than 1 MiB`),
  );
  const big = isImage
    ? layout === 'VM image'
      ? 'boot/initrd.img'
      : 'rootfs/bin/big'
    : layout === 'VM backup'
      ? 'backup/virtual-machine/big'
      : 'backup/container/rootfs/big';
  add(
    `a member declaring a petabyte ("${big}")`,
    () => [...valid, { name: big, type: 'file', declaredSize: 1024n ** 5n }],
    new RegExp(`${label} entry "${escape(big)}": its contents unpack to more than the .* free`),
  );
  add(
    'a truncated gzip',
    () => valid,
    /corrupt.*truncated/,
    (plain) => half(gz(plain)),
  );
  if (isImage) {
    add(
      'a truncated xz',
      () => valid,
      /corrupt: xz could not decompress it/,
      (p) => half(compress('xz', ['-c', '-T1'], p)),
    );
    add(
      'a truncated bzip2',
      () => valid,
      /corrupt: bzip2 could not decompress it/,
      (p) => half(compress('bzip2', ['-c'], p)),
    );
    add(
      'a truncated zstd',
      () => valid,
      /corrupt: zstd could not decompress it/,
      (p) => half(compress('zstd', ['-c', '-q'], p)),
    );
  }
  add(
    'a compression nobody knows (lzip)',
    () => valid,
    isImage ? /not an image tarball/ : /[Nn]ot a backup tarball|compression/,
    (plain) => Buffer.concat([Buffer.from('LZIP\x01'), plain]),
  );
  return cases;
}

/**
 * A zstd stream whose tar ends normally and then goes on with zeros (tar's
 * end-of-archive blocks) for `bytes`: tiny compressed, endless to read.
 */
export function zstdBomb(layout: LayoutName, name: string, bytes: number): Buffer {
  const plain = tar(validMembers(layout, name));
  const script = `cat; head -c ${bytes} /dev/zero`;
  return execFileSync('sh', ['-c', `(${script}) | zstd -c -q -T1 -1`], {
    input: plain,
    maxBuffer: 1 << 28,
  });
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
