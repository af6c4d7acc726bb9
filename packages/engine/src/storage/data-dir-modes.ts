// Who may read what in the data directory, as LXD keeps /var/lib/lxd: the
// top folder 0711 (unprivileged containers' mapped root must traverse it to
// reach its rootfs, but nobody may list it), everything holding secrets
// root-only, each instance volume 0100. Installs made before these modes were
// set left the database 0644 and every rootfs reachable by any local user;
// `secureDataDir` puts the modes right at every start.
import { chmod, chown, lstat, readdir } from 'node:fs/promises';
import path from 'node:path';

/**
 * An instance volume (`containers/<project>_<name>`, holding `rootfs/`):
 * only its owner, the instance's root as the host sees it, may traverse it,
 * as LXD's `0100` ("we only need traversal by root in the container"). A
 * local user who guesses a name cannot reach the rootfs below.
 */
export const VOLUME_DIR_MODE = 0o100;

/** Top-level entries of the data directory and the mode each must have. */
export const dataDirModes: readonly (readonly [entry: string, mode: number])[] = [
  ['.', 0o711],
  // Traversed by unprivileged containers on the way to their rootfs and devices.
  ['storage', 0o711],
  ['lxc', 0o711],
  // Root-only: nothing in them is for a container or a local user. The
  // database (password and token hashes, sessions) has its own folder, as LXD's.
  ['database', 0o700],
  ['images', 0o700],
  ['backups', 0o700],
  ['logs', 0o700],
  ['qemu', 0o700],
  ['uploads', 0o700],
  // The host helpers Berth compiles (berth-mount), run as root.
  ['helpers', 0o700],
  // Recorded exec output: whatever the commands printed, secrets included.
  ['exec-output', 0o700],
  // Written by the web server: the cookie key, the TLS key, the first admin's password.
  ['session-secret', 0o600],
  ['server.key', 0o600],
  ['initial-admin-password', 0o600],
  // LXC's own files that hold what the engine knows about every instance.
  ['lxc/hooks.spool', 0o600],
  ['lxc/hooks.spool.old', 0o600],
];

/** chmod when the entry exists and its mode differs; symlinks are never followed. */
export async function ensureMode(file: string, mode: number): Promise<void> {
  let info;
  try {
    info = await lstat(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (info.isSymbolicLink()) return;
  if ((info.mode & 0o7777) !== mode) await chmod(file, mode);
}

/** LXD's mode and owner for one instance volume folder (owner: the instance's root on the host). */
export async function secureVolumeDir(dir: string, rootUid: number): Promise<void> {
  const info = await lstat(dir);
  if (info.uid !== rootUid || info.gid !== 0) await chown(dir, rootUid, 0);
  if ((info.mode & 0o7777) !== VOLUME_DIR_MODE) await chmod(dir, VOLUME_DIR_MODE);
}

/**
 * Puts the data directory's modes right: the fixed entries above, and each
 * container's LXC config (it holds raw.lxc, environment and devices),
 * 0600 as the config LXC itself saves is private to root.
 */
export async function secureDataDir(dataDir: string): Promise<void> {
  for (const [entry, mode] of dataDirModes) await ensureMode(path.join(dataDir, entry), mode);
  const lxcPath = path.join(dataDir, 'lxc');
  const containers = await readdir(lxcPath, { withFileTypes: true }).catch(() => []);
  for (const container of containers) {
    if (!container.isDirectory()) continue;
    await ensureMode(path.join(lxcPath, container.name, 'config'), 0o600);
  }
}
