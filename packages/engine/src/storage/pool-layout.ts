// The folders of a `dir` pool: one per volume type, made with the modes
// unprivileged containers need, and swept of what a crash left half-done.
import { mkdir, readdir, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { ensureMode } from './data-dir-modes.ts';
import { poolSubdirs } from './pool-paths.ts';
import { markTopOfHierarchies, removeTree } from './tree-ops.ts';

/** rmdir that only succeeds on an empty folder; anything else is left alone. */
export async function removeIfEmpty(dir: string): Promise<void> {
  try {
    await rmdir(dir);
  } catch {
    // not empty, or already gone
  }
}

export async function makePoolLayout(source: string): Promise<void> {
  await mkdir(source, { recursive: true, mode: 0o711 });
  await ensureMode(source, 0o711);
  for (const sub of poolSubdirs) {
    // 0711: unprivileged containers' mapped root must traverse to its rootfs;
    // nobody may list the volumes. Snapshots are never run from: root only.
    const mode = sub.endsWith('-snapshots') ? 0o700 : 0o711;
    await mkdir(path.join(source, sub), { recursive: true, mode });
    await ensureMode(path.join(source, sub), mode);
  }
  // Volumes are unrelated trees: spread them over block groups (see tree-ops.ts).
  await Promise.all(
    ['containers', 'containers-snapshots'].map((sub) =>
      markTopOfHierarchies(path.join(source, sub)),
    ),
  );
}

export async function removePoolLayout(source: string): Promise<void> {
  for (const sub of poolSubdirs) await removeIfEmpty(path.join(source, sub));
}

/** Hidden `.create-…`/`.delete-…` temporaries a crash left (two levels: type dirs and snapshot folders, plus rootfs swaps). */
export async function sweepTemporaries(source: string): Promise<void> {
  const hidden = (entry: string) => /^\.(create|delete|snapshot|restore|replaced)-/.test(entry);
  const listing = async (dir: string) => {
    try {
      return await readdir(dir);
    } catch {
      return [];
    }
  };
  for (const sub of poolSubdirs) {
    const top = path.join(source, sub);
    for (const entry of await listing(top)) {
      const full = path.join(top, entry);
      if (hidden(entry)) {
        await removeTree(full);
        continue;
      }
      for (const inner of await listing(full)) {
        if (hidden(inner)) await removeTree(path.join(full, inner));
      }
    }
  }
}
