// Client-safe entry (`@berth/engine/schemas`): zod schemas and types only,
// nothing from Node.
export * from './common.ts';
export * from './status.ts';
export * from './instance.ts';
export * from './profile.ts';
export * from './requests.ts';
export * from './image.ts';
export * from './storage.ts';
export * from './storage-volume.ts';
export * from './network.ts';
// API URLs are part of the wire format (used_by, resources): pure, so client-safe too.
export { apiUrl } from '../api-url.ts';
export * from './warning.ts';
