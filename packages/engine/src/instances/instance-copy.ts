// What a copy of an instance takes from its source (LXD's createFromCopy and
// InstanceIncludeWhenCopying for a local copy): pure, so tested beside it.
import { EngineError } from '../errors.ts';
import type { ConfigMap, DeviceMap } from '../schemas/index.ts';
import { nameProblem } from '../validation/index.ts';

/** `c1` or `c1/snap0`, checked as names; errors name `source.source`. */
export function parseCopySource(source: string): { instance: string; snapshot?: string } {
  const field = 'source.source';
  if (source.trim() === '') throw EngineError.invalid(field, 'the instance to copy is missing');
  const [instance = '', snapshot, ...rest] = source.split('/');
  if (rest.length > 0)
    throw EngineError.invalid(
      field,
      `"${source}" is neither "<instance>" nor "<instance>/<snapshot>"`,
    );
  const problem =
    nameProblem(instance, 'instance') ??
    (snapshot === undefined ? undefined : nameProblem(snapshot, 'snapshot'));
  if (problem) throw EngineError.invalid(field, `"${source}": ${problem.message}`);
  if (snapshot === undefined) return { instance };
  return { instance, snapshot };
}

/**
 * The source's local config under the request's: every `volatile.*` key
 * describes the source (its MACs, uuid, power state) and is dropped, so the
 * copy gets its own, except `volatile.base_image` (what it was made from).
 * `image.*` keys are ordinary keys and stay.
 */
export function copiedConfig(source: ConfigMap, requested: ConfigMap): ConfigMap {
  const kept = Object.entries(source).filter(
    ([key]) => !key.startsWith('volatile.') || key === 'volatile.base_image',
  );
  return { ...Object.fromEntries(kept), ...requested };
}

/** The source's local devices; a device the request names replaces the source's whole. */
export function copiedDevices(source: DeviceMap, requested: DeviceMap): DeviceMap {
  return { ...source, ...requested };
}

/**
 * The request's config without the source's `volatile.*` values it echoes:
 * `lxc copy` sends the source's config back with `volatile.base_image` in
 * it. A volatile key with another value stays, so validation refuses it by name.
 */
export function withoutEchoedVolatile(requested: ConfigMap, source: ConfigMap): ConfigMap {
  return Object.fromEntries(
    Object.entries(requested).filter(([k, v]) => !(k.startsWith('volatile.') && source[k] === v)),
  );
}
