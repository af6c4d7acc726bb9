// An instance's files: browse, make directories, delete. File contents go
// through the route handler /api/instances/[project]/[name]/files (binary).
// Reading files is an operator's right too: they may hold secrets.
import path from 'node:path/posix';
import { z } from 'zod';
import { projectProcedure, router } from '../init.ts';

const AbsolutePath = z
  .string()
  .min(1)
  .max(4096)
  .refine((p) => p.startsWith('/'), 'must be an absolute path');
const InstancePath = z.object({ instance: z.string().min(1), path: AbsolutePath });

export interface DirectoryEntry {
  name: string;
  path: string;
  type: 'file' | 'directory' | 'symlink' | 'other';
  size: number | null;
  mode: number | null;
  target?: string;
}

/** Entries beyond this many are listed by name only (reading each one costs a pull). */
const detailedEntries = 300;

export const filesRouter = router({
  /** A directory's entries (directories first), or the one entry when `path` is not a directory. */
  list: projectProcedure('files')
    .input(InstancePath)
    .query(async ({ ctx, input }) => {
      const { project, instance } = input;
      const at = path.normalize(input.path);
      const pulled = await ctx.engine.instances.filePull(project, instance, at);
      if (!pulled.entries)
        return { path: at, type: pulled.entry.type, entries: [] as DirectoryEntry[] };
      const names = pulled.entries;
      const entries: DirectoryEntry[] = [];
      // A few at a time: each pull opens the instance's rootfs.
      for (let i = 0; i < names.length; i += 8) {
        const batch = names.slice(i, i + 8);
        entries.push(
          ...(await Promise.all(
            batch.map(async (name): Promise<DirectoryEntry> => {
              const full = path.join(at, name);
              if (i >= detailedEntries)
                return { name, path: full, type: 'other', size: null, mode: null };
              try {
                const { entry } = await ctx.engine.instances.filePull(project, instance, full);
                return {
                  name,
                  path: full,
                  type: entry.type,
                  size: entry.type === 'file' ? entry.size : null,
                  mode: entry.mode,
                  ...(entry.target ? { target: entry.target } : {}),
                };
              } catch {
                // Device nodes, sockets, FIFOs: listed, never read.
                return { name, path: full, type: 'other', size: null, mode: null };
              }
            }),
          )),
        );
      }
      entries.sort(
        (a, b) =>
          Number(b.type === 'directory') - Number(a.type === 'directory') ||
          a.name.localeCompare(b.name),
      );
      return { path: at, type: 'directory' as const, entries };
    }),
  mkdir: projectProcedure('files')
    .input(InstancePath)
    .mutation(({ ctx, input }) =>
      ctx.engine.instances.filePush(input.project, input.instance, path.normalize(input.path), {
        type: 'directory',
        mode: 0o755,
      }),
    ),
  delete: projectProcedure('files')
    .input(InstancePath)
    // The engine refuses `/` and non-empty directories (rmdir), naming the reason.
    .mutation(({ ctx, input }) =>
      ctx.engine.instances.fileRemove(input.project, input.instance, path.normalize(input.path)),
    ),
});
