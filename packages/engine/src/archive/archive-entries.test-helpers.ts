// Tar entries by kind, for the entry-check tests.
import type { ArchiveEntry } from './image-entry-check.ts';

export const file = (path: string): ArchiveEntry => ({ path, type: 'File' });
export const dir = (path: string): ArchiveEntry => ({ path, type: 'Directory' });
export const sym = (path: string, linkpath: string): ArchiveEntry => ({
  path,
  type: 'SymbolicLink',
  linkpath,
});
export const hard = (path: string, linkpath: string): ArchiveEntry => ({
  path,
  type: 'Link',
  linkpath,
});
