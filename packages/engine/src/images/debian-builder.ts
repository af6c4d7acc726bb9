// The `debian/12` builder: debootstrap from the Debian archive the host is
// configured with, plus what a system container needs to boot and get an
// address (systemd, networkd DHCP on eth0, poweroff on SIGPWR as LXD's
// images do). Minutes, not seconds: it downloads and unpacks packages.
// The virtual machine variant builds on this (debian-vm-*.ts).
import { mkdir, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

export const debianReleases: Record<string, { codename: string; version: string }> = {
  '12': { codename: 'bookworm', version: '12' },
  bookworm: { codename: 'bookworm', version: '12' },
};

/** Packages on top of minbase: an init, networking, and what people expect in a shell. */
export const debianPackages = [
  'systemd-sysv',
  'dbus',
  'iproute2',
  'ifupdown',
  'iputils-ping',
  'ca-certificates',
  'less',
  'procps',
  'nano',
];

/**
 * The first `deb` archive of the main Debian suite in the host's apt
 * configuration (deb822 `.sources` or one-line `sources.list`), else
 * deb.debian.org.
 */
export function debianMirrorFrom(files: readonly string[]): string {
  for (const text of files) {
    // deb822 stanzas.
    for (const stanza of text.split(/\n\s*\n/)) {
      const field = (name: string) =>
        stanza
          .split('\n')
          .find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`))
          ?.slice(name.length + 1)
          .trim();
      const types = field('Types') ?? '';
      const uris = field('URIs') ?? '';
      const suites = field('Suites') ?? '';
      if (types.split(/\s+/).includes('deb') && uris && !/security/.test(suites)) {
        const uri = uris.split(/\s+/)[0];
        if (uri && !/security/.test(uri)) return uri;
      }
    }
    // One-line format.
    for (const line of text.split('\n')) {
      const m = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line);
      if (m && !/security/.test(m[1]!) && !/security/.test(m[2]!)) return m[1]!;
    }
  }
  return 'http://deb.debian.org/debian';
}

export async function hostDebianMirror(): Promise<string> {
  const texts: string[] = [];
  const dir = '/etc/apt/sources.list.d';
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names.filter((n) => n.endsWith('.sources') || n.endsWith('.list')).sort()) {
    texts.push(await readFile(path.join(dir, name), 'utf8').catch(() => ''));
  }
  texts.push(await readFile('/etc/apt/sources.list', 'utf8').catch(() => ''));
  return debianMirrorFrom(texts);
}

export interface DebootstrapOptions {
  /** Besides debianPackages. */
  extraPackages?: readonly string[];
  /**
   * Unpack only (`--foreign`): the packages are configured later by
   * `/debootstrap/debootstrap --second-stage` in a chroot, so files written
   * in between (a VM's initramfs configuration) are there when the
   * packages' scripts run.
   */
  foreign?: boolean;
}

export function debootstrapArgs(
  codename: string,
  target: string,
  mirror: string,
  options: DebootstrapOptions = {},
): string[] {
  const packages = [...debianPackages, ...(options.extraPackages ?? [])];
  return [
    ...(options.foreign ? ['--foreign'] : []),
    '--variant=minbase',
    `--include=${packages.join(',')}`,
    codename,
    target,
    mirror,
  ];
}

/** Writes `text` at `file` (relative to `root`), making its folder. */
export async function writeTreeFile(
  root: string,
  file: string,
  text: string,
  mode = 0o644,
): Promise<void> {
  await mkdir(path.dirname(path.join(root, file)), { recursive: true });
  await writeFile(path.join(root, file), text, { mode });
}

/** What every Debian image gets, container or VM: apt sources, a hostname, an empty machine-id. */
export async function writeDebianBase(
  rootfs: string,
  mirror: string,
  codename: string,
): Promise<void> {
  const write = (file: string, text: string) => writeTreeFile(rootfs, file, text);
  await write(
    'etc/apt/sources.list',
    `deb ${mirror} ${codename} main\ndeb ${mirror} ${codename}-updates main\n`,
  );
  await write('etc/hostname', 'debian\n');
  await write(
    'etc/hosts',
    '127.0.0.1 localhost\n127.0.1.1 debian\n::1 localhost ip6-localhost ip6-loopback\n',
  );
  // Empty machine-id: systemd makes one per instance at first boot.
  await write('etc/machine-id', '');
}

/** Package caches make the image bigger and are stale at once. */
export async function removeAptCache(rootfs: string): Promise<void> {
  await rm(path.join(rootfs, 'var/cache/apt/archives'), { recursive: true, force: true });
  await mkdir(path.join(rootfs, 'var/cache/apt/archives/partial'), { recursive: true });
}

/** What turns a debootstrapped tree into a bootable container rootfs. */
export async function prepareDebianRootfs(
  rootfs: string,
  mirror: string,
  codename: string,
): Promise<void> {
  const write = (file: string, text: string) => writeTreeFile(rootfs, file, text);
  await writeDebianBase(rootfs, mirror, codename);
  // DHCP on eth0 through systemd-networkd (in the systemd package already).
  await write('etc/systemd/network/eth0.network', '[Match]\nName=eth0\n\n[Network]\nDHCP=ipv4\n');
  const wants = 'etc/systemd/system/multi-user.target.wants';
  await mkdir(path.join(rootfs, wants), { recursive: true });
  await symlink(
    '/lib/systemd/system/systemd-networkd.service',
    path.join(rootfs, wants, 'systemd-networkd.service'),
  ).catch(() => {});
  // LXC asks init to halt with SIGPWR; systemd maps that to sigpwr.target, so
  // power off from there (as LXD's images do).
  await write(
    'etc/systemd/system/sigpwr-container-shutdown.service',
    '[Unit]\nDescription=Power off the container on SIGPWR\nDefaultDependencies=no\n\n[Service]\nType=oneshot\nExecStart=/bin/systemctl --no-block poweroff\n',
  );
  const sigpwr = 'etc/systemd/system/sigpwr.target.wants';
  await mkdir(path.join(rootfs, sigpwr), { recursive: true });
  await symlink(
    '../sigpwr-container-shutdown.service',
    path.join(rootfs, sigpwr, 'sigpwr-container-shutdown.service'),
  ).catch(() => {});
}
