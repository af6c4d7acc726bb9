// Pools and volumes as the API shows them (LXD's StoragePool and
// StorageVolume), with the URLs of what uses them.
import type { StoragePoolRecord, StorageVolumeRecord } from '@berth/db';
import type { StoragePool, StorageVolume } from '../schemas/storage.ts';

const statusOf: Record<string, string> = {
  CREATED: 'Created',
  PENDING: 'Pending',
  ERRORED: 'Errored',
};

export function poolUrl(name: string): string {
  return `/1.0/storage-pools/${encodeURIComponent(name)}`;
}

function withProject(url: string, project: string): string {
  return project === 'default' ? url : `${url}?project=${encodeURIComponent(project)}`;
}

export function poolToApi(
  row: StoragePoolRecord,
  volumes: readonly StorageVolumeRecord[],
): StoragePool {
  const usedBy = volumes
    .filter((v) => !v.name.includes('/'))
    .map((v) => volumeUsedByUrl(v))
    .sort();
  return {
    name: row.name,
    description: row.description,
    driver: row.driver,
    status: statusOf[row.state] ?? 'Unknown',
    config: row.config,
    used_by: usedBy,
    locations: ['none'],
  };
}

export function volumeUsedByUrl(v: StorageVolumeRecord): string {
  if (v.type === 'container' || v.type === 'virtual-machine') {
    return withProject(`/1.0/instances/${encodeURIComponent(v.name)}`, v.project);
  }
  if (v.type === 'image') return withProject(`/1.0/images/${v.name}`, v.project);
  return withProject(
    `${poolUrl(v.pool)}/volumes/${v.type}/${encodeURIComponent(v.name)}`,
    v.project,
  );
}

export function volumeToApi(v: StorageVolumeRecord): StorageVolume {
  const parent = v.name.split('/')[0] ?? v.name;
  return {
    name: v.name,
    description: v.description,
    type: v.type,
    config: v.config,
    content_type: v.contentType,
    used_by:
      v.type === 'container' || v.type === 'virtual-machine'
        ? [withProject(`/1.0/instances/${encodeURIComponent(parent)}`, v.project)]
        : [],
    location: v.node,
    created_at: v.createdAt.toISOString(),
    project: v.project,
  };
}
