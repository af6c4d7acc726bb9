import { describe, expect, it } from 'vitest';
import {
  checkSegment,
  instancePathsIn,
  joinInside,
  snapshotPathsIn,
  snapshotsDirIn,
  tempSiblingOf,
  volumeDirName,
} from './pool-paths.ts';

describe('pool paths', () => {
  it('lays instances out as LXD does', () => {
    expect(instancePathsIn('/pool', 'default', 'c1', 'container')).toEqual({
      dir: '/pool/containers/default_c1',
      rootfs: '/pool/containers/default_c1/rootfs',
    });
    expect(instancePathsIn('/pool', 'p2', 'vm1', 'virtual-machine').dir).toBe(
      '/pool/virtual-machines/p2_vm1',
    );
    expect(snapshotsDirIn('/pool', 'default', 'c1', 'container')).toBe(
      '/pool/containers-snapshots/default_c1',
    );
    expect(snapshotPathsIn('/pool', 'default', 'c1', 'container', 'snap0')).toEqual({
      dir: '/pool/containers-snapshots/default_c1/snap0',
      rootfs: '/pool/containers-snapshots/default_c1/snap0/rootfs',
    });
  });

  it.each([
    ['..', 'c1'],
    ['default', '..'],
    ['default', '../../etc'],
    ['a/b', 'c1'],
    ['default', 'c\0'],
    ['default', ''],
    ['', 'c1'],
    ['default', '.hidden'],
  ])('refuses names that could leave the pool: %j %j', (project, name) => {
    expect(() => instancePathsIn('/pool', project, name, 'container')).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });

  it('refuses snapshot names that could leave the volume', () => {
    for (const snap of ['..', 'a/b', '', '.tmp']) {
      expect(() => snapshotPathsIn('/pool', 'default', 'c1', 'container', snap)).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT', field: 'snapshot' }),
      );
    }
  });

  it('refuses unknown volume types', () => {
    expect(() => instancePathsIn('/pool', 'default', 'c1', 'nope')).toThrow(
      expect.objectContaining({ field: 'type' }),
    );
  });

  it('joinInside keeps strictly inside the root', () => {
    expect(joinInside('/pool', 'containers', 'x')).toBe('/pool/containers/x');
    expect(() => joinInside('/pool', '..', 'etc')).toThrow();
    expect(() => joinInside('/pool', '/etc')).toThrow();
    expect(() => joinInside('/pool', '.')).toThrow();
    expect(() => joinInside('/pool/', 'containers/../../x')).toThrow();
    expect(() => joinInside('relative', 'x')).toThrow(
      expect.objectContaining({ code: 'INTERNAL' }),
    );
  });

  it('checks single segments', () => {
    expect(checkSegment('name', 'c1')).toBe('c1');
    expect(() => checkSegment('name', 'x'.repeat(256))).toThrow();
    expect(volumeDirName('my_project', 'c1')).toBe('my_project_c1');
  });

  it('puts temporaries beside their target, hidden', () => {
    expect(tempSiblingOf('/pool/containers/default_c1', 'create', 'ab12')).toBe(
      '/pool/containers/.create-default_c1-ab12',
    );
  });
});
