// Client-safe entry (`@berth/engine/schemas`): zod schemas and types only,
// nothing from Node.
export * from './common.ts';
export * from './status.ts';
export * from './instance.ts';
export * from './profile.ts';
export * from './requests.ts';
export * from './image.ts';
export * from './storage.ts';
export * from './network.ts';
