// What an operation's stored metadata must never hold. LXD's websocket
// operations (exec, console) put their channels' secrets (`fds`) and the
// command's `environment` (often credentials) in metadata, and LXD shows it
// to anyone who can read the project: whoever read it could take the exec
// over (CVE-2025-54289). Berth keeps both out of the database and out of
// operation events; the REST layer holds them in memory and shows them to
// the operation's creator alone.

/** Metadata keys that are never stored nor announced. */
export const secretMetadataKeys = ['fds', 'environment'] as const;

/** The metadata without its secret keys (the same object when it has none). */
export function withoutSecrets<M>(metadata: M): M {
  if (!holdsSecrets(metadata)) return metadata;
  const kept: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(metadata)) {
    if (!(secretMetadataKeys as readonly string[]).includes(key)) kept[key] = value;
  }
  return kept as M;
}

/** Does stored metadata (of an older Berth) still hold a secret key? */
export function holdsSecrets(metadata: unknown): metadata is Record<string, unknown> {
  return (
    typeof metadata === 'object' &&
    metadata !== null &&
    secretMetadataKeys.some((key) => Object.hasOwn(metadata, key))
  );
}
