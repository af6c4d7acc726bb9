// Pools and volumes as the API shows them (LXD's StoragePool and
// StorageVolume), with the URLs of what uses them.
import type { StoragePoolRecord, StorageVolumeRecord } from '@berth/db';
import { apiUrl } from '../api-url.ts';
import type { StoragePool, StorageVolume } from '../schemas/storage.ts';

const statusOf: Record<string, string> = {
  CREATED: 'Created',
  PENDING: 'Pending',
  ERRORED: 'Errored',
};

/** Volumes have no apiUrl entry yet: the pool's URL, then the project as apiUrl adds it. */
function volumeUrl(v: StorageVolumeRecord): string {
  const url = `${apiUrl.storagePool(v.pool)}/volumes/${v.type}/${encodeURIComponent(v.name)}`;
  return v.project === 'default' ? url : `${url}?project=${encodeURIComponent(v.project)}`;
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
    return apiUrl.instance(v.project, v.name);
  }
  if (v.type === 'image') return apiUrl.image(v.project, v.name);
  return volumeUrl(v);
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
        ? [apiUrl.instance(v.project, parent)]
        : [],
    location: v.node,
    created_at: v.createdAt.toISOString(),
    project: v.project,
  };
}
