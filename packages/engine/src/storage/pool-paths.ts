// Where the `dir` driver keeps things inside a pool, and the one check every
// path built from a name goes through. Names are validated upstream; this is
// the last line: a name that could leave the pool (`..`, `/`, NUL) is refused
// here whatever the caller checked.
import path from 'node:path';
import { EngineError } from '../errors.ts';

/** The pool's top-level folders, as LXD's dir driver lays them out. */
export const poolSubdirs = [
  'containers',
  'containers-snapshots',
  'virtual-machines',
  'virtual-machines-snapshots',
  'custom',
  'custom-snapshots',
  'images',
] as const;

export type VolumeType = 'container' | 'virtual-machine' | 'custom' | 'image';

const typeDirs: Record<VolumeType, { volumes: string; snapshots: string }> = {
  container: { volumes: 'containers', snapshots: 'containers-snapshots' },
  'virtual-machine': { volumes: 'virtual-machines', snapshots: 'virtual-machines-snapshots' },
  custom: { volumes: 'custom', snapshots: 'custom-snapshots' },
  // Images have no snapshots; the folder is never used for them.
  image: { volumes: 'images', snapshots: 'images' },
};

export function isVolumeType(type: string): type is VolumeType {
  return Object.hasOwn(typeDirs, type);
}

/**
 * One path segment taken from a name: non-empty, no `/` or NUL, not `.`/`..`,
 * not starting with `.` (the pool's own temporary entries start with `.`),
 * at most 255 bytes (NAME_MAX).
 */
export function checkSegment(field: string, value: string): string {
  if (value === '') throw EngineError.invalid(field, 'must not be empty');
  if (value.includes('/')) throw EngineError.invalid(field, `"${value}" must not contain "/"`);
  if (value.includes('\0')) throw EngineError.invalid(field, 'must not contain a NUL byte');
  if (value.startsWith('.')) throw EngineError.invalid(field, `"${value}" must not start with "."`);
  if (Buffer.byteLength(value) > 255) throw EngineError.invalid(field, 'must be at most 255 bytes');
  return value;
}

/** `root/seg/…`, refusing anything that would not be strictly inside `root`. */
export function joinInside(root: string, ...segments: string[]): string {
  if (!path.isAbsolute(root))
    throw new EngineError('INTERNAL', `storage: pool path "${root}" is not absolute`);
  const base = path.resolve(root);
  const out = path.resolve(base, ...segments);
  const rel = path.relative(base, out);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) {
    throw EngineError.invalid('name', `path "${segments.join('/')}" would leave the storage pool`);
  }
  return out;
}

/** LXD's `project_name` volume naming; `_` cannot occur in instance names, so it splits back unambiguously. */
export function volumeDirName(project: string, name: string): string {
  return `${checkSegment('project', project)}_${checkSegment('name', name)}`;
}

export function volumeTypeDir(type: string): { volumes: string; snapshots: string } {
  if (!isVolumeType(type)) throw EngineError.invalid('type', `unknown volume type "${type}"`);
  return typeDirs[type];
}

export interface InstancePaths {
  /** The volume: `<pool>/containers/<project>_<name>`. */
  dir: string;
  /** `dir/rootfs`. */
  rootfs: string;
}

export function instancePathsIn(
  source: string,
  project: string,
  name: string,
  type: string,
): InstancePaths {
  const dir = joinInside(source, volumeTypeDir(type).volumes, volumeDirName(project, name));
  return { dir, rootfs: path.join(dir, 'rootfs') };
}

/** `<pool>/containers-snapshots/<project>_<name>`: the folder holding every snapshot of one volume. */
export function snapshotsDirIn(
  source: string,
  project: string,
  name: string,
  type: string,
): string {
  return joinInside(source, volumeTypeDir(type).snapshots, volumeDirName(project, name));
}

/** `<pool>/containers-snapshots/<project>_<name>/<snapshot>`: a copy of the volume's folder. */
export function snapshotPathsIn(
  source: string,
  project: string,
  name: string,
  type: string,
  snapshot: string,
): InstancePaths {
  const dir = path.join(
    snapshotsDirIn(source, project, name, type),
    checkSegment('snapshot', snapshot),
  );
  return { dir, rootfs: path.join(dir, 'rootfs') };
}

/** A sibling of `target` for work in progress: same folder, so a rename onto it is atomic. */
export function tempSiblingOf(target: string, purpose: string, random: string): string {
  return path.join(path.dirname(target), `.${purpose}-${path.basename(target)}-${random}`);
}
