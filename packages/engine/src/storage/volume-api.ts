// Custom volumes and their snapshots as the API shows them (LXD's
// StorageVolume and StorageVolumeSnapshot), and their URLs.
import type { StorageVolumeRecord } from '@berth/db';
import { apiUrl } from '../api-url.ts';
import { zeroTime } from '../schemas/common.ts';
import type { StorageVolume } from '../schemas/storage.ts';
import type { StorageVolumeSnapshot } from '../schemas/storage-volume.ts';

function withProject(url: string, project: string): string {
  return project === 'default' ? url : `${url}?project=${encodeURIComponent(project)}`;
}

/** `/1.0/storage-pools/<pool>/volumes/<type>/<name>` (a snapshot row's name `v1/s0` becomes `.../v1/snapshots/s0`). */
export function volumeUrl(pool: string, project: string, type: string, name: string): string {
  const [parent = name, snapshot] = name.split('/');
  const base = `${apiUrl.storagePool(pool)}/volumes/${encodeURIComponent(type)}/${encodeURIComponent(parent)}`;
  return withProject(
    snapshot === undefined ? base : `${base}/snapshots/${encodeURIComponent(snapshot)}`,
    project,
  );
}

export function customVolumeToApi(row: StorageVolumeRecord, usedBy: string[]): StorageVolume {
  return {
    name: row.name,
    description: row.description,
    type: row.type,
    config: row.config,
    content_type: row.contentType,
    used_by: usedBy,
    location: row.node,
    created_at: row.createdAt.toISOString(),
    project: row.project,
  };
}

export function volumeSnapshotToApi(row: StorageVolumeRecord): StorageVolumeSnapshot {
  return {
    name: row.name.slice(row.name.indexOf('/') + 1),
    description: row.description,
    config: row.config,
    content_type: row.contentType,
    created_at: row.createdAt.toISOString(),
    expires_at: row.expiresAt ? row.expiresAt.toISOString() : zeroTime,
  };
}
