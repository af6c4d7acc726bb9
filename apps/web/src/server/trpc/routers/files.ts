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

export const filesRouter = router({
  /** A directory's entries (directories first), or the one entry when `path` is not a directory. */
  list: projectProcedure('files')
    .input(InstancePath)
    .query(async ({ ctx, input }) => {
      const { project, instance } = input;
      const at = path.normalize(input.path);
      const stat = await ctx.engine.instances.fileStat(project, instance, at);
      if (stat.type !== 'directory')
        return { path: at, type: stat.type, entries: [] as DirectoryEntry[] };
      const listed = await ctx.engine.instances.listDirectory(project, instance, at);
      const entries = listed.map((entry): DirectoryEntry => ({
        name: entry.name,
        path: path.join(at, entry.name),
        type: entry.type,
        size: entry.type === 'file' ? entry.size : null,
        mode: entry.mode,
        ...(entry.target !== undefined ? { target: entry.target } : {}),
      }));
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
