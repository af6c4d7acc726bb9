/**
 * Finds the value a filter field names in a JSON (wire-shaped) LXD object,
 * the way LXD's `filter.ValueOf` walks its Go structs:
 *
 * - a struct is entered one dotted segment at a time
 *   (`state.memory.usage` → state → memory → usage);
 * - a `map[string]string` (config, expanded_config, one device) takes the
 *   whole rest of the path as one key, so `config.limits.cpu` reads
 *   `config["limits.cpu"]`, and a missing key reads as Go's zero value `""`;
 * - anything else that is missing reads as nothing (`undefined`).
 *
 * JSON does not say which objects were Go maps, so an object whose values are
 * all strings is taken for a `map[string]string`. That guess is wrong only for
 * an empty map of maps (`devices: {}`), where `devices.eth0.type` then reads
 * `""` rather than nothing, which changes only `eq ""`.
 *
 * Also unlike LXD, which stops at maps of structs and slices, this walks any
 * JSON object, so `state.network.eth0.hwaddr` resolves. Arrays are not
 * indexed, as in LXD.
 */
export function resolveField(root: unknown, field: string): unknown {
  let node = root;
  let path = field;

  for (;;) {
    if (!isJsonObject(node)) return undefined;
    // The whole remaining path first: config keys contain dots, struct keys never do.
    if (Object.hasOwn(node, path)) return node[path] ?? undefined;

    const dot = path.indexOf('.');
    const child = dot < 0 ? undefined : ownValue(node, path.slice(0, dot));
    if (isJsonObject(child)) {
      node = child;
      path = path.slice(dot + 1);
      continue;
    }
    return isStringMap(node) ? '' : undefined;
  }
}

export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function ownValue(node: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(node, key) ? node[key] : undefined;
}

function isStringMap(node: Record<string, unknown>): boolean {
  return Object.values(node).every((value) => typeof value === 'string');
}
