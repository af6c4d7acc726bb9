// Image records as the API shows them (LXD's api.Image field names).
import os from 'node:os';
import type { ImageRecord } from '@berth/db';
import type { Image } from '../schemas/image.ts';
import { zeroTime, type InstanceType } from '../schemas/index.ts';

/** What `expires_at` says of an image that never expires. */
export const NEVER_EXPIRES = '1970-01-01T00:00:00Z';

function rfc3339(date: Date): string {
  return date.toISOString().replace('.000Z', 'Z');
}

/** The architecture name LXD uses for this host. */
export function hostArchitecture(): string {
  const map: Record<string, string> = {
    x64: 'x86_64',
    arm64: 'aarch64',
    arm: 'armv7l',
    ia32: 'i686',
    ppc64: 'ppc64le',
    s390x: 's390x',
    riscv64: 'riscv64',
  };
  return map[os.arch()] ?? os.arch();
}

export function toImage(record: ImageRecord): Image {
  return {
    fingerprint: record.fingerprint,
    filename: record.filename,
    size: record.size,
    public: record.public,
    auto_update: record.autoUpdate,
    properties: record.properties,
    aliases: record.aliases.map((a) => ({ name: a.name, description: a.description })),
    architecture: record.architecture,
    type: record.type as InstanceType,
    cached: record.cached,
    profiles: ['default'],
    created_at: record.createdAt ? rfc3339(record.createdAt) : zeroTime,
    uploaded_at: rfc3339(record.uploadedAt),
    last_used_at: record.lastUsedAt ? rfc3339(record.lastUsedAt) : zeroTime,
    expires_at: record.expiresAt ? rfc3339(record.expiresAt) : NEVER_EXPIRES,
  };
}
